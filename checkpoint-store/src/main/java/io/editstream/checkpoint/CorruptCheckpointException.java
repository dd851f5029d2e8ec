package io.editstream.checkpoint;

import java.io.IOException;

/** A checkpoint that cannot be trusted: a blob or tensor whose hash differs, a missing blob, a broken parent chain. */
public final class CorruptCheckpointException extends IOException {

    public CorruptCheckpointException(String message) {
        super(message);
    }

    static CorruptCheckpointException hashMismatch(String modelId, long version, String tensor, String expected, String actual) {
        return new CorruptCheckpointException("model " + modelId + " version " + version + ": tensor " + tensor
                + " materialises to sha256 " + actual + ", the manifest says " + expected);
    }
}

package io.editstream.checkpoint;

import java.io.IOException;

/** A version already has a different manifest, and the writer did not say it replaces an uncommitted one. */
public final class ManifestConflictException extends IOException {

    public ManifestConflictException(String message) {
        super(message);
    }
}

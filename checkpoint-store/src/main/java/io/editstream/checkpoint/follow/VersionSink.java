package io.editstream.checkpoint.follow;

import io.editstream.checkpoint.ModelHead;
import java.io.IOException;

/** Where a {@link CheckpointFollower} puts each verified version: a served model, or nothing for a follower that only tracks. */
@FunctionalInterface
public interface VersionSink {

    /** Tracks versions without serving them. */
    VersionSink NONE = head -> { };

    /**
     * Takes the head's tensors (every one verified against the version's hashes). Called on the follower's thread; the
     * head changes after this returns, so anything kept must be copied. A failure refuses the version, and the sink
     * must then still hold the version it had.
     */
    void swapTo(ModelHead head) throws IOException;
}

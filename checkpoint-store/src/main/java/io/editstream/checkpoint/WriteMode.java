package io.editstream.checkpoint;

/** What a manifest write may do to a manifest already stored for the same version. */
public enum WriteMode {
    /** Create it; an identical one already there is fine (a retry), a different one is a {@link ManifestConflictException}. */
    CREATE,
    /**
     * Replace whatever is there: only for a version whose checkpoint event never committed (a worker that crashed between
     * writing the manifest and committing the event recomputes the batch and overwrites its own leftover).
     */
    REPLACE_UNCOMMITTED
}

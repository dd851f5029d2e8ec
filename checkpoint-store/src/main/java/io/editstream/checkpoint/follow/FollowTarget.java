package io.editstream.checkpoint.follow;

/** Which version a {@link CheckpointFollower} serves. */
public sealed interface FollowTarget {

    /** The latest version committed on the checkpoints topic. */
    record Latest() implements FollowTarget {
        @Override
        public String toString() {
            return "latest";
        }
    }

    /** One version, whether or not it is published yet (the follower waits for it); 0 is the base. */
    record Pinned(long version) implements FollowTarget {
        public Pinned {
            requireVersion(version);
        }

        @Override
        public String toString() {
            return "pinned at " + version;
        }
    }

    /** A version already committed, at or behind the latest: refused when it is not committed yet. */
    record RolledBack(long version) implements FollowTarget {
        public RolledBack {
            requireVersion(version);
        }

        @Override
        public String toString() {
            return "rolled back to " + version;
        }
    }

    static FollowTarget latest() {
        return new Latest();
    }

    private static void requireVersion(long version) {
        if (version < 0) {
            throw new IllegalArgumentException("versions are 0 (the base) or more, got " + version);
        }
    }
}

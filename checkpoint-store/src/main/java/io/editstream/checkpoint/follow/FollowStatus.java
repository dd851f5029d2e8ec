package io.editstream.checkpoint.follow;

import java.util.Collections;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What a {@link CheckpointFollower} serves and why: an immutable snapshot, replaced after every change.
 *
 * @param baseSha256      the base the model's versions apply to; null until the base is in the store
 * @param version         the version handed to the sink (0: the base); -1 before the first
 * @param tensorSha256    every edited tensor's hash at {@code version}
 * @param latestCommitted the highest version of the model committed on the checkpoints topic (0: none)
 * @param lastRefusal     the most recent version refused, or null; it stays after a later version is served
 * @param failure         why the follower stopped for good (state {@link State#FAILED}), else null
 * @param swaps           how many times a version was handed to the sink
 */
public record FollowStatus(State state, String modelId, String baseSha256, long version, SortedMap<String, String> tensorSha256,
                           long latestCommitted, FollowTarget target, Refusal lastRefusal, String failure, long swaps) {

    public enum State {
        /** Waiting for the base or the topic, or reading the topic to its end before the first version. */
        STARTING,
        FOLLOWING,
        /** Stopped: see {@code failure}. The sink keeps the version it last got. */
        FAILED,
        CLOSED
    }

    public FollowStatus {
        tensorSha256 = Collections.unmodifiableSortedMap(new TreeMap<>(tensorSha256));
    }

    FollowStatus with(State nextState) {
        return new FollowStatus(nextState, modelId, baseSha256, version, tensorSha256, latestCommitted, target, lastRefusal, failure, swaps);
    }
}

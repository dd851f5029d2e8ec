package io.editstream.checkpoint.follow;

import java.time.Instant;

/**
 * A version the follower would not serve: a corrupt or missing blob, a broken chain, a manifest that is not the
 * committed version, a checkpoint for another base, or a sink that could not load it; or an unreadable record.
 *
 * @param version the version it tried to reach; -1 for a record on the topic that could not be read
 * @param reason  what was wrong, naming the version, tensor or blob at fault
 */
public record Refusal(long version, String reason, Instant at) {
}

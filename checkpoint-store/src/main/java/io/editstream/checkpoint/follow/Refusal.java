package io.editstream.checkpoint.follow;

import java.time.Instant;

/**
 * A version the follower would not serve: a corrupt or missing blob, a broken chain, a manifest that is not the
 * committed version, a checkpoint for another base, or a sink that could not load it.
 *
 * @param version the version it tried to reach
 * @param reason  what was wrong, naming the version, tensor or blob at fault
 */
public record Refusal(long version, String reason, Instant at) {
}

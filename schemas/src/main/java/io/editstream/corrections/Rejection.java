package io.editstream.corrections;

import io.editstream.events.DeadLetterReason;

/** Why a correction is refused: a machine-readable reason and a message naming the field. */
public record Rejection(DeadLetterReason reason, String message) {
}

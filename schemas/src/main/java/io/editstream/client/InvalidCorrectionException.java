package io.editstream.client;

import io.editstream.corrections.Rejection;

/** Thrown by {@link CorrectionPublisher} for a correction the pipeline would refuse; nothing was sent. */
public final class InvalidCorrectionException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final transient Rejection rejection;

    public InvalidCorrectionException(String correctionId, Rejection rejection) {
        super("invalid correction " + correctionId + ": " + rejection.reason() + ": " + rejection.message());
        this.rejection = rejection;
    }

    public Rejection rejection() {
        return rejection;
    }
}

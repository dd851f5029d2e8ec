package io.editstream.client;

/** A correction record whose JSON cannot be mapped to a {@code CorrectionEvent}: a missing, mistyped or unknown field. */
public final class MalformedCorrectionException extends Exception {
    private static final long serialVersionUID = 1L;

    public MalformedCorrectionException(String message) {
        super(message);
    }
}

package io.editstream.client;

import java.time.Instant;
import java.util.Objects;

/**
 * What a correction record read from a file gets for the fields it leaves out.
 *
 * @param modelId    the model a record without {@code model_id} is for; null when every record must name its own
 * @param source     the detector name a record without {@code source} is attributed to
 * @param detectedAt the event time of a record without {@code detected_at} (see {@link CorrectionFile} for how
 *                   records of one file are spread around it)
 */
public record CorrectionDefaults(String modelId, String source, Instant detectedAt) {
    public CorrectionDefaults {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(detectedAt, "detectedAt");
    }

    public CorrectionDefaults withDetectedAt(Instant at) {
        return new CorrectionDefaults(modelId, source, at);
    }
}

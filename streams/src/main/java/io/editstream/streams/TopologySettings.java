package io.editstream.streams;

import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;

import io.editstream.corrections.ValidationRules;
import io.editstream.events.Topics;

/**
 * Every knob of the corrections topology. Built from {@link Properties} with {@code editstream.*} keys
 * ({@link #fromProperties}); each key and its default is listed on the component below.
 *
 * @param knownModels      {@value #MODELS}: comma-separated model ids this deployment edits (required, non-empty);
 *                         corrections for other models go to the DLQ as UNKNOWN_MODEL
 * @param correctionsTopic {@value #CORRECTIONS_TOPIC}, default {@link Topics#CORRECTIONS}
 * @param editRequestsTopic {@value #EDIT_REQUESTS_TOPIC}, default {@link Topics#EDIT_REQUESTS}
 * @param deadLetterTopic  {@value #DLQ_TOPIC}, default {@link Topics#CORRECTIONS_DLQ}
 * @param grace            {@value #GRACE_MS}, default 2000: how long (in event time) a correction waits in the
 *                         reorder buffer for earlier-timed corrections of its model; also about how long, in
 *                         wall-clock time after a partition's input stops, its buffered tail waits before it is
 *                         released anyway (see {@code ReorderBuffer}). A correction arriving after later-timed ones
 *                         of its model were sequenced is sequenced on arrival, flagged {@code late} (never dropped)
 * @param batchMaxEdits    {@value #BATCH_MAX_EDITS}, default 1: most edits per {@code EditBatch}; 1 gives pure
 *                         sequential editing (every edit its own batch, emitted as soon as it is sequenced)
 * @param batchLinger      {@value #BATCH_LINGER_MS}, default 500: a batch that has not filled up is emitted this
 *                         long (wall-clock) after its first edit was sequenced
 * @param dedupRetention   {@value #DEDUP_RETENTION_MS}, default 604800000 (7 days): how long (event time) a
 *                         correction id, and a (model, subject, prompt template, target_new), are remembered for
 *                         deduplication. A correction detected longer ago than this (less the clock skew below)
 *                         is refused (DLQ, reason TOO_OLD): a retry of it could no longer be recognised
 * @param maxClockSkew     {@value #MAX_CLOCK_SKEW_MS}, default 300000 (5 min): a correction detected further in the
 *                         future than this is refused (DLQ, reason OTHER), because one far-future event time would
 *                         make every later correction of its model late and expire the dedup windows
 * @param punctuateInterval {@value #PUNCTUATE_INTERVAL_MS}, default 100: wall-clock period of the checks that release
 *                         a stalled reorder buffer and close lingering batches
 * @param batchMaxBytes    {@value #BATCH_MAX_BYTES}, default 524288 (512 KiB): a batch is closed before an edit
 *                         would take its encoded size past this (an edit alone always makes a batch); with the
 *                         correction limit below it keeps every EditBatch and open-batches changelog record under
 *                         Kafka's default 1 MiB record limit
 * @param deadLetterMaxOriginalBytes {@value #DLQ_MAX_ORIGINAL_BYTES}, default 524288 (512 KiB): most bytes of a
 *                         refused record's key and value a dead letter carries; beyond it they are truncated, and
 *                         the dead letter says so and carries the originals' lengths and SHA-256 digests
 * @param supersessionsMaxBytes {@value #SUPERSESSIONS_MAX_BYTES}, default 65536 (64 KiB): most bytes of reports of
 *                         superseded corrections a held correction gathers in the grace period; a fact flipping
 *                         more often than that has its model's held corrections released at once, up to it (see
 *                         {@code ReorderBuffer}). With the correction limit it keeps an edit with its
 *                         supersessions under the batch byte budget
 * @param maxFailuresPerRecord {@value #MAX_FAILURES_PER_RECORD}, default 3: a stream thread that dies this many times
 *                         in a row on the same input record takes the application to ERROR, naming the record,
 *                         instead of being replaced forever
 * @param validationRules  {@value #MAX_TEXT_BYTES} (default {@value ValidationRules#DEFAULT_MAX_TEXT_BYTES}),
 *                         {@value #MAX_LIST_SIZE} (default {@value ValidationRules#DEFAULT_MAX_LIST_SIZE}) and
 *                         {@value #MAX_CORRECTION_BYTES} (default
 *                         {@value ValidationRules#DEFAULT_MAX_CORRECTION_BYTES}), plus the known models
 */
public record TopologySettings(
        Set<String> knownModels,
        String correctionsTopic,
        String editRequestsTopic,
        String deadLetterTopic,
        Duration grace,
        int batchMaxEdits,
        Duration batchLinger,
        Duration dedupRetention,
        Duration maxClockSkew,
        Duration punctuateInterval,
        int batchMaxBytes,
        int deadLetterMaxOriginalBytes,
        int supersessionsMaxBytes,
        int maxFailuresPerRecord,
        ValidationRules validationRules) {

    public static final String MODELS = "editstream.models";
    public static final String CORRECTIONS_TOPIC = "editstream.topic.corrections";
    public static final String EDIT_REQUESTS_TOPIC = "editstream.topic.edit-requests";
    public static final String DLQ_TOPIC = "editstream.topic.dlq";
    public static final String GRACE_MS = "editstream.grace.ms";
    public static final String BATCH_MAX_EDITS = "editstream.batch.max.edits";
    public static final String BATCH_LINGER_MS = "editstream.batch.linger.ms";
    public static final String DEDUP_RETENTION_MS = "editstream.dedup.retention.ms";
    public static final String MAX_CLOCK_SKEW_MS = "editstream.max.clock.skew.ms";
    public static final String PUNCTUATE_INTERVAL_MS = "editstream.punctuate.interval.ms";
    public static final String MAX_TEXT_BYTES = "editstream.max.text.bytes";
    public static final String MAX_LIST_SIZE = "editstream.max.list.size";
    public static final String MAX_CORRECTION_BYTES = "editstream.max.correction.bytes";
    public static final String BATCH_MAX_BYTES = "editstream.batch.max.bytes";
    public static final String DLQ_MAX_ORIGINAL_BYTES = "editstream.dlq.max.original.bytes";
    public static final String SUPERSESSIONS_MAX_BYTES = "editstream.supersessions.max.bytes";
    public static final String MAX_FAILURES_PER_RECORD = "editstream.max.failures.per.record";

    public static final Duration DEFAULT_GRACE = Duration.ofSeconds(2);
    public static final int DEFAULT_BATCH_MAX_EDITS = 1;
    public static final Duration DEFAULT_BATCH_LINGER = Duration.ofMillis(500);
    public static final Duration DEFAULT_DEDUP_RETENTION = Duration.ofDays(7);
    public static final Duration DEFAULT_MAX_CLOCK_SKEW = Duration.ofMinutes(5);
    public static final Duration DEFAULT_PUNCTUATE_INTERVAL = Duration.ofMillis(100);
    public static final int DEFAULT_BATCH_MAX_BYTES = 512 * 1024;
    public static final int DEFAULT_DLQ_MAX_ORIGINAL_BYTES = 512 * 1024;
    public static final int DEFAULT_SUPERSESSIONS_MAX_BYTES = 64 * 1024;
    public static final int DEFAULT_MAX_FAILURES_PER_RECORD = 3;

    public TopologySettings {
        knownModels = Set.copyOf(knownModels);
        require(!knownModels.isEmpty(), MODELS, "must name at least one model");
        require(knownModels.stream().noneMatch(m -> m.isBlank() || m.indexOf('\0') >= 0), MODELS,
                "model ids must not be blank or contain NUL characters");
        Objects.requireNonNull(correctionsTopic, CORRECTIONS_TOPIC);
        Objects.requireNonNull(editRequestsTopic, EDIT_REQUESTS_TOPIC);
        Objects.requireNonNull(deadLetterTopic, DLQ_TOPIC);
        require(!grace.isNegative(), GRACE_MS, "must be >= 0, got " + grace.toMillis());
        require(batchMaxEdits >= 1, BATCH_MAX_EDITS, "must be >= 1, got " + batchMaxEdits);
        require(!batchLinger.isNegative(), BATCH_LINGER_MS, "must be >= 0, got " + batchLinger.toMillis());
        require(dedupRetention.toMillis() >= 1, DEDUP_RETENTION_MS, "must be >= 1, got " + dedupRetention.toMillis());
        require(!maxClockSkew.isNegative(), MAX_CLOCK_SKEW_MS, "must be >= 0, got " + maxClockSkew.toMillis());
        // Corrections older than the retention less the skew are refused as TOO_OLD: the skew must leave a window.
        require(dedupRetention.compareTo(maxClockSkew) > 0, DEDUP_RETENTION_MS,
                "must be longer than " + MAX_CLOCK_SKEW_MS + " (" + maxClockSkew.toMillis() + "), got "
                        + dedupRetention.toMillis());
        require(punctuateInterval.toMillis() >= 1, PUNCTUATE_INTERVAL_MS,
                "must be >= 1, got " + punctuateInterval.toMillis());
        require(batchMaxBytes >= 1, BATCH_MAX_BYTES, "must be >= 1, got " + batchMaxBytes);
        require(deadLetterMaxOriginalBytes >= 0, DLQ_MAX_ORIGINAL_BYTES,
                "must be >= 0, got " + deadLetterMaxOriginalBytes);
        require(supersessionsMaxBytes >= 1, SUPERSESSIONS_MAX_BYTES, "must be >= 1, got " + supersessionsMaxBytes);
        require(maxFailuresPerRecord >= 1, MAX_FAILURES_PER_RECORD, "must be >= 1, got " + maxFailuresPerRecord);
        require(validationRules.knownModels().equals(knownModels), MODELS,
                "the validation rules must know the same models");
    }

    /** Defaults everywhere except the models. */
    public static TopologySettings defaults(Set<String> knownModels) {
        Properties p = new Properties();
        p.setProperty(MODELS, String.join(",", knownModels));
        return fromProperties(p);
    }

    /**
     * Reads the {@code editstream.*} keys; unknown keys are ignored (the same file may carry Kafka settings).
     *
     * @throws IllegalArgumentException naming the key, for a missing model list or a malformed or out-of-range value
     */
    public static TopologySettings fromProperties(Properties p) {
        String models = p.getProperty(MODELS);
        require(models != null && !models.isBlank(), MODELS, "is required (comma-separated model ids)");
        Set<String> knownModels = new LinkedHashSet<>();
        Arrays.stream(models.split(",")).map(String::strip).filter(s -> !s.isEmpty()).forEach(knownModels::add);
        int maxTextBytes = intValue(p, MAX_TEXT_BYTES, ValidationRules.DEFAULT_MAX_TEXT_BYTES);
        int maxListSize = intValue(p, MAX_LIST_SIZE, ValidationRules.DEFAULT_MAX_LIST_SIZE);
        int maxCorrectionBytes = intValue(p, MAX_CORRECTION_BYTES, ValidationRules.DEFAULT_MAX_CORRECTION_BYTES);
        require(maxTextBytes > 0, MAX_TEXT_BYTES, "must be > 0, got " + maxTextBytes);
        require(maxListSize >= 0, MAX_LIST_SIZE, "must be >= 0, got " + maxListSize);
        require(maxCorrectionBytes > 0, MAX_CORRECTION_BYTES, "must be > 0, got " + maxCorrectionBytes);
        return new TopologySettings(
                knownModels,
                p.getProperty(CORRECTIONS_TOPIC, Topics.CORRECTIONS).strip(),
                p.getProperty(EDIT_REQUESTS_TOPIC, Topics.EDIT_REQUESTS).strip(),
                p.getProperty(DLQ_TOPIC, Topics.CORRECTIONS_DLQ).strip(),
                millis(p, GRACE_MS, DEFAULT_GRACE),
                intValue(p, BATCH_MAX_EDITS, DEFAULT_BATCH_MAX_EDITS),
                millis(p, BATCH_LINGER_MS, DEFAULT_BATCH_LINGER),
                millis(p, DEDUP_RETENTION_MS, DEFAULT_DEDUP_RETENTION),
                millis(p, MAX_CLOCK_SKEW_MS, DEFAULT_MAX_CLOCK_SKEW),
                millis(p, PUNCTUATE_INTERVAL_MS, DEFAULT_PUNCTUATE_INTERVAL),
                intValue(p, BATCH_MAX_BYTES, DEFAULT_BATCH_MAX_BYTES),
                intValue(p, DLQ_MAX_ORIGINAL_BYTES, DEFAULT_DLQ_MAX_ORIGINAL_BYTES),
                intValue(p, SUPERSESSIONS_MAX_BYTES, DEFAULT_SUPERSESSIONS_MAX_BYTES),
                intValue(p, MAX_FAILURES_PER_RECORD, DEFAULT_MAX_FAILURES_PER_RECORD),
                new ValidationRules(knownModels, maxTextBytes, maxListSize, maxCorrectionBytes));
    }

    public TopologySettings withGrace(Duration newGrace) {
        return new TopologySettings(knownModels, correctionsTopic, editRequestsTopic, deadLetterTopic, newGrace,
                batchMaxEdits, batchLinger, dedupRetention, maxClockSkew, punctuateInterval, batchMaxBytes,
                deadLetterMaxOriginalBytes, supersessionsMaxBytes, maxFailuresPerRecord, validationRules);
    }

    public TopologySettings withBatching(int maxEdits, Duration linger) {
        return new TopologySettings(knownModels, correctionsTopic, editRequestsTopic, deadLetterTopic, grace,
                maxEdits, linger, dedupRetention, maxClockSkew, punctuateInterval, batchMaxBytes,
                deadLetterMaxOriginalBytes, supersessionsMaxBytes, maxFailuresPerRecord, validationRules);
    }

    public TopologySettings withDedupRetention(Duration retention) {
        return new TopologySettings(knownModels, correctionsTopic, editRequestsTopic, deadLetterTopic, grace,
                batchMaxEdits, batchLinger, retention, maxClockSkew, punctuateInterval, batchMaxBytes,
                deadLetterMaxOriginalBytes, supersessionsMaxBytes, maxFailuresPerRecord, validationRules);
    }

    private static Duration millis(Properties p, String key, Duration defaultValue) {
        String raw = p.getProperty(key);
        return raw == null ? defaultValue : Duration.ofMillis(longValue(key, raw));
    }

    private static int intValue(Properties p, String key, int defaultValue) {
        String raw = p.getProperty(key);
        if (raw == null) {
            return defaultValue;
        }
        long value = longValue(key, raw);
        require(value >= Integer.MIN_VALUE && value <= Integer.MAX_VALUE, key, "is out of range: " + raw);
        return (int) value;
    }

    private static long longValue(String key, String raw) {
        try {
            return Long.parseLong(raw.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " must be a whole number, got '" + raw + "'", e);
        }
    }

    private static void require(boolean condition, String key, String problem) {
        if (!condition) {
            throw new IllegalArgumentException(key + " " + problem);
        }
    }
}

package io.editstream.streams;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.apache.avro.AvroTypeException;
import org.apache.avro.Schema;
import org.apache.kafka.common.metrics.Sensor;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.editstream.corrections.CorrectionValidator;
import io.editstream.corrections.PromptTemplate;
import io.editstream.corrections.Rejection;
import io.editstream.events.CorrectionEvent;
import io.editstream.events.DeadLetter;
import io.editstream.events.DeadLetterReason;
import io.editstream.events.EditRequest;
import io.editstream.events.SerdeSettings;

/**
 * Step 1: decodes the raw bytes (here rather than in the source, so that bytes that cannot be decoded reach the DLQ
 * as they were), applies the shared validation rules, checks that the record key is the model id, and normalises a
 * valid correction into the edit it asks for.
 *
 * <p>A value the deserializer cannot decode because the schema registry cannot be reached is not bad data: the
 * record is parked in a store, and so is every later record of this partition (their order matters to
 * deduplication and supersession), until a retry with back-off decodes it. Other partitions go on meanwhile.
 */
final class DecodeAndValidate implements Processor<byte[], byte[], byte[], Checked> {
    private static final Logger log = LoggerFactory.getLogger(DecodeAndValidate.class);
    private static final Duration FIRST_RETRY = Duration.ofMillis(200);
    private static final Duration LONGEST_RETRY = Duration.ofSeconds(5);

    private final TopologySettings settings;
    /** Partitions of the corrections topic. */
    private final int partitions;
    private final SerdeSettings serdes;
    private final CorrectionValidator validator;
    private final InputActivity activity;
    private final DeadLetters deadLetters;
    private Deserializer<CorrectionEvent> deserializer;
    private ProcessorContext<byte[], Checked> context;
    private KeyValueStore<Long, ParkedRecord> parked;
    private Sensor refusals;
    private final Map<DeadLetterReason, Sensor> refusalsByReason = new EnumMap<>(DeadLetterReason.class);
    private Sensor registryWaits;
    /** The parked records are those keyed from {@code firstParked} (inclusive) to {@code nextParked}. */
    private long firstParked;
    private long nextParked;
    private Duration retryDelay = FIRST_RETRY;
    private long nextRetry;

    DecodeAndValidate(TopologySettings settings, SerdeSettings serdes, InputActivity activity, int partitions) {
        this.settings = settings;
        this.partitions = partitions;
        this.serdes = serdes;
        this.activity = activity;
        this.validator = new CorrectionValidator(settings.validationRules());
        this.deadLetters = new DeadLetters(settings.deadLetterMaxOriginalBytes());
    }

    @Override
    public void init(ProcessorContext<byte[], Checked> context) {
        this.context = context;
        this.deserializer = serdes.valueSerde(CorrectionEvent.class).deserializer();
        this.parked = context.getStateStore(CorrectionsTopology.REGISTRY_WAITS_STORE);
        this.refusals = PipelineMetrics.counter(context, PipelineMetrics.DEAD_LETTERS);
        this.registryWaits = PipelineMetrics.counter(context, PipelineMetrics.REGISTRY_WAITS);
        firstParked = 0;
        nextParked = 0;
        try (KeyValueIterator<Long, ParkedRecord> all = parked.all()) {
            if (all.hasNext()) {
                firstParked = all.next().key;
                nextParked = firstParked + 1;
            }
        }
        try (KeyValueIterator<Long, ParkedRecord> last = parked.reverseAll()) {
            if (last.hasNext()) {
                nextParked = last.next().key + 1;
            }
        }
        context.schedule(settings.punctuateInterval(), PunctuationType.WALL_CLOCK_TIME, this::retryParked);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        activity.recordProcessed();
        RecordMetadata metadata = context.recordMetadata().orElseThrow();
        ParkedRecord in = new ParkedRecord(
                new DeadLetters.Source(metadata.topic(), metadata.partition(), metadata.offset()),
                record.timestamp(), record.headers(), record.key(), record.value());
        if (isOversized(in)) {
            return; // refused at once, even while others wait for the registry: it must not be parked (stored)
        }
        if (firstParked < nextParked || !decodeAndForward(in)) {
            park(in);
        }
    }

    /** Refuses a record whose key or value is over the byte limits, unread. */
    private boolean isOversized(ParkedRecord in) {
        int maxBytes = settings.validationRules().maxCorrectionBytes();
        if (in.value() != null && in.value().length > maxBytes) {
            refuse(in, DeadLetterReason.OVERSIZED_RECORD, "the value has " + in.value().length
                    + " bytes, more than the limit of " + maxBytes + " for a correction; not decoded", null);
            return true;
        }
        if (in.key() != null && in.key().length > DeadLetters.MAX_KEY_BYTES) {
            refuse(in, DeadLetterReason.OVERSIZED_RECORD, "the key has " + in.key().length
                    + " bytes, more than the limit of " + DeadLetters.MAX_KEY_BYTES + " (a model id)", null);
            return true;
        }
        return false;
    }

    private void park(ParkedRecord in) {
        if (firstParked == nextParked) {
            log.warn("the schema registry is unreachable: {} and the records behind it wait for it", in.source());
            nextRetry = context.currentSystemTimeMs() + retryDelay.toMillis();
        }
        parked.put(nextParked++, in);
        registryWaits.record();
    }

    /** Decodes and forwards the parked records in order, until the registry fails again. */
    private void retryParked(long now) {
        if (firstParked == nextParked || now < nextRetry) {
            return;
        }
        while (firstParked < nextParked) {
            ParkedRecord head = parked.get(firstParked);
            if (!decodeAndForward(head)) {
                retryDelay = retryDelay.multipliedBy(2).compareTo(LONGEST_RETRY) > 0
                        ? LONGEST_RETRY : retryDelay.multipliedBy(2);
                nextRetry = now + retryDelay.toMillis();
                log.warn("the schema registry is still unreachable: {} records of {} wait; next try in {} ms",
                        nextParked - firstParked, head.source(), retryDelay.toMillis());
                return;
            }
            parked.delete(firstParked++);
        }
        log.info("the schema registry is back: every parked record of this partition is processed");
        retryDelay = FIRST_RETRY;
    }

    /** False when the value could not be decoded because the schema registry is unreachable. */
    private boolean decodeAndForward(ParkedRecord in) {
        if (in.value() == null) {
            refuse(in, DeadLetterReason.UNDESERIALIZABLE, "the record has no value (tombstone)", null);
            return true;
        }
        Object decoded;
        try {
            decoded = deserializer.deserialize(in.source().topic(), in.headers(), in.value());
        } catch (RuntimeException e) {
            if (isRegistryUnreachable(e)) {
                log.debug("cannot decode {}: the schema registry is unreachable ({})", in.source(), describe(e));
                return false;
            }
            DeadLetterReason reason = isMissingField(e)
                    ? DeadLetterReason.MISSING_FIELD
                    : DeadLetterReason.UNDESERIALIZABLE;
            refuse(in, reason, "cannot decode the value as a CorrectionEvent: " + describe(e), null);
            return true;
        }
        if (!(decoded instanceof CorrectionEvent correction)) {
            refuse(in, DeadLetterReason.UNDESERIALIZABLE, "the value decodes to "
                    + (decoded == null ? "null" : decoded.getClass().getName()) + ", not a CorrectionEvent", null);
            return true;
        }
        String replaced = textWithReplacedBytes(correction, in.value());
        if (replaced != null) {
            refuse(in, DeadLetterReason.INVALID_TEXT, replaced + " is not valid UTF-8 (the decoder replaced bytes "
                    + "with U+FFFD)", correction.getCorrectionId());
            return true;
        }
        Optional<Rejection> rejection = validator.validate(correction);
        if (rejection.isPresent()) {
            refuse(in, rejection.get().reason(), rejection.get().message(), correction.getCorrectionId());
            return true;
        }
        String key = in.key() == null ? null : new String(in.key(), StandardCharsets.UTF_8);
        if (!correction.getModelId().equals(key)) {
            refuse(in, DeadLetterReason.KEY_MISMATCH, "record key " + (key == null ? "null" : "'" + key + "'")
                    + " is not the model_id '" + correction.getModelId() + "'", correction.getCorrectionId());
            return true;
        }
        long now = context.currentSystemTimeMs();
        long detectedAt = correction.getDetectedAt().toEpochMilli();
        long skew = detectedAt - now;
        if (skew > settings.maxClockSkew().toMillis()) {
            refuse(in, DeadLetterReason.OTHER, "detected_at " + correction.getDetectedAt() + " is " + skew
                    + " ms in the future, more than the allowed clock skew of " + settings.maxClockSkew().toMillis()
                    + " ms", correction.getCorrectionId());
            return true;
        }
        // The dedup memories keep ids for the retention window behind the latest event time seen, which may run
        // up to the clock skew ahead of now: an older correction could be a retry they no longer remember.
        long oldest = now + settings.maxClockSkew().toMillis() - settings.dedupRetention().toMillis();
        if (detectedAt < oldest) {
            refuse(in, DeadLetterReason.TOO_OLD, "detected_at " + correction.getDetectedAt() + " is older than "
                    + Instant.ofEpochMilli(oldest) + ": beyond the deduplication window of "
                    + settings.dedupRetention() + " (less the allowed clock skew), a retry of it could not be told "
                    + "from a new correction", correction.getCorrectionId());
            return true;
        }
        int modelPartition = Utils.toPositive(Utils.murmur2(correction.getModelId().getBytes(StandardCharsets.UTF_8)))
                % partitions;
        context.forward(new Record<>(in.key(), new Checked.Valid(correction.getModelId(), toRequest(correction),
                in.source().partition() == modelPartition), in.timestamp(), in.headers()));
        return true;
    }

    /**
     * The field whose text holds a U+FFFD that is not in the original bytes (so the decoder put it there in place of
     * invalid UTF-8), or null. A text with a U+FFFD of its own is found verbatim in the bytes and passes.
     */
    private static String textWithReplacedBytes(CorrectionEvent c, byte[] original) {
        for (Schema.Field field : c.getSchema().getFields()) {
            if (field.schema().getType() == Schema.Type.DOUBLE || field.schema().getType() == Schema.Type.LONG) {
                continue;
            }
            Object value = c.get(field.pos());
            Collection<?> texts = value instanceof Collection<?> list ? list
                    : value instanceof Map<?, ?> map ? concat(map.keySet(), map.values())
                    : value == null ? List.of() : List.of(value);
            for (Object text : texts) {
                if (text != null && text.toString().indexOf('\uFFFD') >= 0
                        && indexOf(original, text.toString().getBytes(StandardCharsets.UTF_8)) < 0) {
                    return field.name();
                }
            }
        }
        return null;
    }

    private static Collection<?> concat(Collection<?> a, Collection<?> b) {
        List<Object> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    static EditRequest toRequest(CorrectionEvent c) {
        return EditRequest.newBuilder()
                .setSequence(0)
                .setCorrectionId(c.getCorrectionId())
                .setSubject(c.getSubject())
                .setPromptTemplate(PromptTemplate.ofPrompt(c.getPrompt(), c.getSubject()).template())
                .setTargetNew(c.getTargetNew())
                .setTargetTrue(c.getTargetTrue())
                .setParaphrases(c.getParaphrases())
                .setNeighborhoodPrompts(c.getNeighborhoodPrompts())
                .setSource(c.getSource())
                .setConfidence(c.getConfidence())
                .setDetectedAt(c.getDetectedAt())
                .setLate(false)
                .setTraceContext(c.getTraceContext())
                .build();
    }

    private void refuse(ParkedRecord in, DeadLetterReason reason, String message, String correctionId) {
        DeadLetter deadLetter = deadLetters.of(in.source(), in.key(), in.value(), reason, message, correctionId,
                context.currentSystemTimeMs());
        refusals.record();
        refusalsByReason.computeIfAbsent(reason, r -> PipelineMetrics.counter(context, PipelineMetrics.deadLetters(r))).record();
        log.debug("refused {}: {} {}", in.source(), reason, deadLetter.getMessage());
        context.forward(new Record<>(deadLetters.keptKey(in.key()), new Checked.Refused(deadLetter), in.timestamp(),
                in.headers()));
    }

    /**
     * A registry that cannot be reached (refused, reset or timed-out connections) or that answers with a server
     * error (5xx: the HTTP status of the registry client's exception, Apicurio's {@code getResponseStatusCode} or
     * Confluent's {@code getStatus}), rather than bytes that cannot be decoded.
     */
    static boolean isRegistryUnreachable(Throwable e) {
        for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof java.net.ConnectException || t instanceof java.net.SocketException
                    || t instanceof java.net.SocketTimeoutException || t instanceof java.net.http.HttpTimeoutException
                    || t instanceof java.net.UnknownHostException
                    || t instanceof java.nio.channels.ClosedChannelException
                    || httpStatus(t) >= 500) {
                return true;
            }
        }
        return false;
    }

    private static int httpStatus(Throwable t) {
        for (String getter : new String[] {"getResponseStatusCode", "getStatus"}) {
            try {
                if (t.getClass().getMethod(getter).invoke(t) instanceof Integer status) {
                    return status;
                }
            } catch (ReflectiveOperationException | RuntimeException notAnHttpError) {
                // no such getter: not an HTTP client's exception
            }
        }
        return -1;
    }

    /** A writer schema lacking a field the reader needs (no default) is a missing field, not garbage. */
    private static boolean isMissingField(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof AvroTypeException && String.valueOf(t.getMessage()).contains("missing required field")) {
                return true;
            }
        }
        return false;
    }

    private static String describe(Throwable e) {
        StringBuilder message = new StringBuilder(e.toString());
        for (Throwable cause = e.getCause(); cause != null && message.length() < 500; cause = cause.getCause()) {
            message.append("; caused by ").append(cause);
        }
        return message.length() > 500 ? message.substring(0, 500) + "..." : message.toString();
    }

    @Override
    public void close() {
        if (deserializer != null) {
            deserializer.close();
        }
    }
}

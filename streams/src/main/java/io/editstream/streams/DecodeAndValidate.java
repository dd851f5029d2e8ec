package io.editstream.streams;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;

import org.apache.avro.AvroTypeException;
import org.apache.kafka.common.metrics.Sensor;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
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
 */
final class DecodeAndValidate implements Processor<byte[], byte[], byte[], Checked> {
    private static final Logger log = LoggerFactory.getLogger(DecodeAndValidate.class);

    private final TopologySettings settings;
    private final SerdeSettings serdes;
    private final CorrectionValidator validator;
    private final InputActivity activity;
    private Deserializer<CorrectionEvent> deserializer;
    private ProcessorContext<byte[], Checked> context;
    private Sensor deadLetters;

    DecodeAndValidate(TopologySettings settings, SerdeSettings serdes, InputActivity activity) {
        this.settings = settings;
        this.serdes = serdes;
        this.activity = activity;
        this.validator = new CorrectionValidator(settings.validationRules());
    }

    @Override
    public void init(ProcessorContext<byte[], Checked> context) {
        this.context = context;
        this.deserializer = serdes.valueSerde(CorrectionEvent.class).deserializer();
        this.deadLetters = PipelineMetrics.counter(context, PipelineMetrics.DEAD_LETTERS);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        activity.recordProcessed();
        if (record.value() == null) {
            refuse(record, DeadLetterReason.UNDESERIALIZABLE, "the record has no value (tombstone)", null);
            return;
        }
        Object decoded;
        try {
            String topic = context.recordMetadata().map(RecordMetadata::topic).orElse(settings.correctionsTopic());
            decoded = deserializer.deserialize(topic, record.headers(), record.value());
        } catch (RuntimeException e) {
            DeadLetterReason reason = isMissingField(e)
                    ? DeadLetterReason.MISSING_FIELD
                    : DeadLetterReason.UNDESERIALIZABLE;
            refuse(record, reason, "cannot decode the value as a CorrectionEvent: " + describe(e), null);
            return;
        }
        if (!(decoded instanceof CorrectionEvent correction)) {
            refuse(record, DeadLetterReason.UNDESERIALIZABLE, "the value decodes to "
                    + (decoded == null ? "null" : decoded.getClass().getName()) + ", not a CorrectionEvent", null);
            return;
        }
        Optional<Rejection> rejection = validator.validate(correction);
        if (rejection.isPresent()) {
            refuse(record, rejection.get().reason(), rejection.get().message(), correction.getCorrectionId());
            return;
        }
        String key = record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8);
        if (!correction.getModelId().equals(key)) {
            // The key decides the partition, and with it which task keeps the model's order and sequence numbers.
            refuse(record, DeadLetterReason.KEY_MISMATCH, "record key " + (key == null ? "null" : "'" + key + "'")
                    + " is not the model_id '" + correction.getModelId() + "'", correction.getCorrectionId());
            return;
        }
        long now = context.currentSystemTimeMs();
        long skew = correction.getDetectedAt().toEpochMilli() - now;
        if (skew > settings.maxClockSkew().toMillis()) {
            refuse(record, DeadLetterReason.OTHER, "detected_at " + correction.getDetectedAt() + " is " + skew
                    + " ms in the future, more than the allowed clock skew of " + settings.maxClockSkew().toMillis()
                    + " ms", correction.getCorrectionId());
            return;
        }
        context.forward(record.withValue(new Checked.Valid(correction.getModelId(), toRequest(correction))));
    }

    private static EditRequest toRequest(CorrectionEvent c) {
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

    private void refuse(Record<byte[], byte[]> record, DeadLetterReason reason, String message, String correctionId) {
        Optional<RecordMetadata> source = context.recordMetadata();
        DeadLetter deadLetter = DeadLetter.newBuilder()
                .setReason(reason)
                .setMessage(message)
                .setSourceTopic(source.map(RecordMetadata::topic).orElse(settings.correctionsTopic()))
                .setSourcePartition(source.map(RecordMetadata::partition).orElse(-1))
                .setSourceOffset(source.map(RecordMetadata::offset).orElse(-1L))
                .setOriginalKey(record.key() == null ? null : ByteBuffer.wrap(record.key()))
                .setOriginalValue(record.value() == null ? null : ByteBuffer.wrap(record.value()))
                .setCorrectionId(correctionId)
                .setRefusedAt(Instant.ofEpochMilli(context.currentSystemTimeMs()))
                .build();
        deadLetters.record();
        log.debug("refused {}-{}@{}: {} {}", deadLetter.getSourceTopic(), deadLetter.getSourcePartition(),
                deadLetter.getSourceOffset(), reason, message);
        context.forward(record.withValue(new Checked.Refused(deadLetter)));
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

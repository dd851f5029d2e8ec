package io.editstream.client;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Future;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.StringSerializer;

import io.editstream.corrections.CorrectionValidator;
import io.editstream.corrections.ValidationRules;
import io.editstream.events.CorrectionEvent;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;

/**
 * What a hallucination detector embeds to report corrections: validates each correction before it is sent (an
 * {@link InvalidCorrectionException} instead of a DLQ record later), keys it by model id, and sends it through an
 * idempotent producer so retries never duplicate it on the topic. Thread-safe.
 */
public final class CorrectionPublisher implements AutoCloseable {
    private final KafkaProducer<String, CorrectionEvent> producer;
    private final CorrectionValidator validator;
    private final String topic;

    /**
     * @param bootstrapServers  the Kafka cluster
     * @param serde             how events are serialised (registry and serde classes)
     * @param rules             the checks applied before sending ({@link ValidationRules#anyModel()} when the detector
     *                          does not know the deployment's model list)
     * @param producerOverrides extra producer settings (e.g. security); cannot turn idempotence off
     */
    public CorrectionPublisher(String bootstrapServers, SerdeSettings serde, ValidationRules rules,
            Map<String, Object> producerOverrides) {
        this(bootstrapServers, serde, rules, producerOverrides, Topics.CORRECTIONS);
    }

    CorrectionPublisher(String bootstrapServers, SerdeSettings serde, ValidationRules rules,
            Map<String, Object> producerOverrides, String topic) {
        Map<String, Object> config = new HashMap<>(producerOverrides);
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, 5);
        config.putIfAbsent(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        Serde<CorrectionEvent> valueSerde = serde.valueSerde(CorrectionEvent.class);
        this.producer = new KafkaProducer<>(config, new StringSerializer(), valueSerde.serializer());
        this.validator = new CorrectionValidator(rules);
        this.topic = topic;
    }

    /**
     * Validates and sends one correction.
     *
     * @throws InvalidCorrectionException when the correction breaks a validation rule (nothing is sent)
     */
    public Future<RecordMetadata> publish(CorrectionEvent correction) {
        validator.validate(correction).ifPresent(r -> {
            throw new InvalidCorrectionException(correction.getCorrectionId(), r);
        });
        return producer.send(new ProducerRecord<>(topic, null, correction.getDetectedAt().toEpochMilli(),
                correction.getModelId(), correction));
    }

    /** Blocks until every correction sent so far is acknowledged. */
    public void flush() {
        producer.flush();
    }

    @Override
    public void close() {
        producer.close();
    }
}

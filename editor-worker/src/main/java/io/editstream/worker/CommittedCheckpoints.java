package io.editstream.worker;

import io.editstream.events.CheckpointPublished;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * The last committed {@link CheckpointPublished} of each model: the truth about what is applied. Read with
 * read_committed from the start of the checkpoints topic up to its last stable offset, so an event whose transaction
 * aborted, or is still open, never counts.
 */
final class CommittedCheckpoints {

    private static final Duration POLL = Duration.ofMillis(200);
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private CommittedCheckpoints() {
    }

    /** Model id → its highest committed version. */
    /** @param kafka Kafka client settings (bootstrap servers, security) */
    static Map<String, CheckpointPublished> read(Map<String, Object> kafka, SerdeSettings serdes) {
        Properties properties = new Properties();
        properties.putAll(kafka);
        properties.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        properties.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        properties.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        Map<String, CheckpointPublished> latest = new HashMap<>();
        try (KafkaConsumer<String, CheckpointPublished> consumer = new KafkaConsumer<>(properties, new StringDeserializer(),
                serdes.valueSerde(CheckpointPublished.class).deserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.CHECKPOINTS, TIMEOUT).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, TIMEOUT);
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (!reached(consumer, end)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("could not read " + Topics.CHECKPOINTS + " to its end " + end + " within " + TIMEOUT);
                }
                for (ConsumerRecord<String, CheckpointPublished> record : consumer.poll(POLL)) {
                    CheckpointPublished checkpoint = record.value();
                    latest.merge(checkpoint.getModelId(), checkpoint,
                            (known, next) -> next.getVersion() > known.getVersion() ? next : known);
                }
            }
        }
        return latest;
    }

    static Optional<CheckpointPublished> of(Map<String, CheckpointPublished> latest, String modelId) {
        return Optional.ofNullable(latest.get(modelId));
    }

    private static boolean reached(KafkaConsumer<?, ?> consumer, Map<TopicPartition, Long> end) {
        return end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue());
    }
}

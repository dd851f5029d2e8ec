package io.editstream.worker;

import io.editstream.events.SerdeSettings;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A topic read with read_committed from its start up to its last stable offset: every record whose transaction
 * committed by now, none that aborted or is still open.
 */
final class CommittedLog {

    private static final Duration POLL = Duration.ofMillis(200);
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private CommittedLog() {
    }

    /**
     * @param kafka Kafka client settings (bootstrap servers, security); the consumer's own settings win over them
     * @param each  given every record's value, partition by partition in offset order
     */
    static <V extends SpecificRecord> void read(Map<String, Object> kafka, SerdeSettings serdes, String topic, Class<V> type,
                                                Consumer<V> each) {
        Properties properties = new Properties();
        properties.putAll(kafka);
        properties.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        properties.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        properties.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaConsumer<String, V> consumer = new KafkaConsumer<>(properties, new StringDeserializer(),
                serdes.valueSerde(type).deserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, TIMEOUT).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, TIMEOUT);
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (!end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("could not read " + topic + " to its end " + end + " within " + TIMEOUT);
                }
                for (ConsumerRecord<String, V> record : consumer.poll(POLL)) {
                    each.accept(record.value());
                }
            }
        }
    }
}

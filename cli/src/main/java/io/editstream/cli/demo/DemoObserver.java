package io.editstream.cli.demo;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;

import io.editstream.events.DeadLetter;
import io.editstream.events.EditBatch;
import io.editstream.events.SerdeSettings;

/**
 * Reads what the topology committed to edit-requests and the dead-letter topic (read_committed: exactly what an
 * editor worker would see), from the beginning.
 */
public final class DemoObserver implements AutoCloseable {
    private static final Duration POLL = Duration.ofMillis(200);

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Deserializer<EditBatch> batchDecoder;
    private final Deserializer<DeadLetter> deadLetterDecoder;
    private final String editRequestsTopic;
    private final List<EditBatch> batches = new ArrayList<>();
    private final List<DeadLetter> deadLetters = new ArrayList<>();

    public DemoObserver(String bootstrapServers, SerdeSettings serdes, String editRequestsTopic, String deadLetterTopic) {
        this.consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.GROUP_ID_CONFIG, "editstream-demo-observer-" + UUID.randomUUID(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString()),
                new ByteArrayDeserializer(), new ByteArrayDeserializer());
        this.batchDecoder = serdes.valueSerde(EditBatch.class).deserializer();
        this.deadLetterDecoder = serdes.valueSerde(DeadLetter.class).deserializer();
        this.editRequestsTopic = editRequestsTopic;
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : List.of(editRequestsTopic, deadLetterTopic)) {
            consumer.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
    }

    /** Reads whatever arrived within one poll. */
    public void poll() {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(POLL)) {
            if (record.topic().equals(editRequestsTopic)) {
                batches.add(batchDecoder.deserialize(record.topic(), record.headers(), record.value()));
            } else {
                deadLetters.add(deadLetterDecoder.deserialize(record.topic(), record.headers(), record.value()));
            }
        }
    }

    public List<EditBatch> batches() {
        return List.copyOf(batches);
    }

    public List<DeadLetter> deadLetters() {
        return List.copyOf(deadLetters);
    }

    /** Edits plus superseded corrections seen so far: every valid unique correction ends up as one of the two. */
    public int correctionsThrough() {
        return batches.stream().mapToInt(b -> b.getEdits().size() + b.getSuperseded().size()).sum();
    }

    @Override
    public void close() {
        consumer.close();
        batchDecoder.close();
        deadLetterDecoder.close();
    }
}

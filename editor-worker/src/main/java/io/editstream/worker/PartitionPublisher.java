package io.editstream.worker;

import io.editstream.events.EditEvaluation;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The transactional producer of one edit-requests partition. Its transactional id names the partition, so the
 * {@code initTransactions} of whichever worker takes the partition over fences every earlier writer of it (a zombie
 * that still believes it owns the partition can no longer commit) and aborts what such a writer left open.
 */
final class PartitionPublisher implements AutoCloseable {

    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);

    private final TopicPartition partition;
    private final KafkaProducer<String, SpecificRecord> producer;

    /** @param kafka Kafka client settings (bootstrap servers, security); the producer's own settings win over them */
    PartitionPublisher(Map<String, Object> kafka, SerdeSettings serdes, String transactionalIdPrefix, TopicPartition partition) {
        this.partition = partition;
        Properties properties = new Properties();
        properties.putAll(kafka);
        properties.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId(transactionalIdPrefix, partition));
        properties.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        properties.put(ProducerConfig.ACKS_CONFIG, "all");
        producer = new KafkaProducer<>(properties, new StringSerializer(), serdes.valueSerde(SpecificRecord.class).serializer());
        try {
            producer.initTransactions();
        } catch (RuntimeException e) {
            producer.close(Duration.ZERO);
            throw e;
        }
    }

    static String transactionalId(String prefix, TopicPartition partition) {
        return prefix + "-" + partition.topic() + "-" + partition.partition();
    }

    /** The version's events and the consumer's position after its batch, in one transaction. */
    void publish(BatchEdit.Version version, long nextOffset, ConsumerGroupMetadata group) {
        String modelId = version.checkpoint().getModelId();
        producer.beginTransaction();
        try {
            producer.send(new ProducerRecord<>(Topics.CHECKPOINTS, modelId, version.checkpoint()));
            for (EditEvaluation evaluation : version.evaluations()) {
                producer.send(new ProducerRecord<>(Topics.EVALUATIONS, modelId, evaluation));
            }
            producer.sendOffsetsToTransaction(Map.of(partition, new OffsetAndMetadata(nextOffset)), group);
            producer.commitTransaction();
        } catch (RuntimeException e) {
            abort(e);
            throw e;
        }
    }

    /** Moves the consumer's committed position past batches that publish nothing (covered, or for a stopped model). */
    void commitOffset(long nextOffset, ConsumerGroupMetadata group) {
        producer.beginTransaction();
        try {
            producer.sendOffsetsToTransaction(Map.of(partition, new OffsetAndMetadata(nextOffset)), group);
            producer.commitTransaction();
        } catch (RuntimeException e) {
            abort(e);
            throw e;
        }
    }

    /** A fenced producer must not abort (it no longer owns the transaction); anything else is rolled back. */
    private void abort(RuntimeException cause) {
        if (fenced(cause)) {
            return;
        }
        try {
            producer.abortTransaction();
        } catch (RuntimeException abortFailed) {
            cause.addSuppressed(abortFailed);
        }
    }

    /** Another writer took the partition over: this one may neither commit nor abort any more. */
    static boolean fenced(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ProducerFencedException || t instanceof InvalidProducerEpochException) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        producer.close(CLOSE_TIMEOUT);
    }
}

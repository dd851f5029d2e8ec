package io.editstream.cli.demo;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;

import io.editstream.cli.demo.DemoInput.Correction;
import io.editstream.cli.demo.DemoInput.Garbage;
import io.editstream.cli.demo.DemoInput.WithoutField;
import io.editstream.events.CorrectionEvent;
import io.editstream.events.SerdeSettings;

/**
 * Sends the scenario's records in order through one idempotent producer. It plays every detector at once, the
 * broken ones included, so it serialises each record itself instead of going through the validating
 * {@code CorrectionPublisher}, which would refuse the bad ones before they reach the topic.
 */
public final class DemoFeeder implements AutoCloseable {
    /** Where the schema without a subject is registered, so that the corrections topic's own schema is untouched. */
    private static final String LEGACY_SCHEMA_SUBJECT_TOPIC = "editstream.demo.legacy-detector";

    private final KafkaProducer<String, byte[]> producer;
    private final Serializer<CorrectionEvent> events;
    private final Serializer<Object> generic;
    private final String topic;

    public DemoFeeder(String bootstrapServers, SerdeSettings serdes, String topic) {
        this.producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), new ByteArraySerializer());
        this.events = serdes.valueSerde(CorrectionEvent.class).serializer();
        this.generic = genericSerializer(serdes);
        this.topic = topic;
    }

    /** Sends every input and waits until the broker acknowledged all of them. */
    public void feed(List<DemoInput> inputs) {
        // Serialise everything first (registry round trips included), so that the records go out back to back and
        // a conflict reaches the topology while the correction it conflicts with is still pending.
        List<ProducerRecord<String, byte[]>> records = inputs.stream().map(this::record).toList();
        List<Future<RecordMetadata>> sends = new ArrayList<>(records.size());
        for (ProducerRecord<String, byte[]> record : records) {
            sends.add(producer.send(record));
        }
        producer.flush();
        for (Future<RecordMetadata> send : sends) {
            try {
                send.get();
            } catch (ExecutionException e) {
                throw new IllegalStateException("the broker refused a demo record: " + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while feeding the demo", e);
            }
        }
    }

    private ProducerRecord<String, byte[]> record(DemoInput input) {
        if (input instanceof Correction c) {
            return new ProducerRecord<>(topic, null, c.event().getDetectedAt().toEpochMilli(), c.key(),
                    events.serialize(topic, c.event()));
        }
        if (input instanceof WithoutField w) {
            return new ProducerRecord<>(topic, null, w.event().getDetectedAt().toEpochMilli(), w.key(),
                    generic.serialize(LEGACY_SCHEMA_SUBJECT_TOPIC, without(w.event(), w.missingField())));
        }
        Garbage g = (Garbage) input;
        return new ProducerRecord<>(topic, g.key(), g.value());
    }

    /** The event as written by a detector on an older contract that lacks one field. */
    private static GenericRecord without(CorrectionEvent event, String missingField) {
        Schema full = CorrectionEvent.getClassSchema();
        List<Schema.Field> fields = full.getFields().stream()
                .filter(f -> !f.name().equals(missingField))
                .map(f -> new Schema.Field(f, f.schema()))
                .toList();
        Schema legacy = Schema.createRecord(full.getName(), full.getDoc(), full.getNamespace(), false, fields);
        GenericRecord record = new GenericData.Record(legacy);
        for (Schema.Field field : fields) {
            Object value = event.get(field.name());
            // The generic writer has no Instant conversion: write the timestamp as its long.
            record.put(field.name(), value instanceof Instant instant ? instant.toEpochMilli() : value);
        }
        return record;
    }

    @SuppressWarnings("unchecked")
    private static Serializer<Object> genericSerializer(SerdeSettings serdes) {
        try {
            Serializer<Object> serializer = (Serializer<Object>) Class.forName(serdes.serializerClass())
                    .getDeclaredConstructor().newInstance();
            serializer.configure(serdes.config(), false);
            return serializer;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot instantiate " + serdes.serializerClass(), e);
        }
    }

    @Override
    public void close() {
        producer.close();
        events.close();
        generic.close();
    }
}

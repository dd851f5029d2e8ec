package io.editstream.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.avro.Schema;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.editstream.corrections.ValidationRules;
import io.editstream.embedded.EmbeddedStack;
import io.editstream.events.CorrectionEvent;
import io.editstream.events.DeadLetterReason;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;

/** The detector client against a real broker and a real Apicurio Registry: Confluent wire format, keyed by model. */
class CorrectionPublisherIT {
    private static EmbeddedStack stack;

    @BeforeAll
    static void start() {
        stack = EmbeddedStack.start(Map.of(Topics.CORRECTIONS, 3));
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    private static CorrectionEvent correction(String id, String target) {
        return CorrectionEvent.newBuilder()
                .setCorrectionId(id).setModelId("gpt2-xl").setSubject("Danielle Darrieux")
                .setPrompt("The mother tongue of {} is").setTargetNew(target).setTargetTrue("French")
                .setParaphrases(List.of("Danielle Darrieux spoke the language"))
                .setSource("detector-a/1.0").setConfidence(0.8).setDetectedAt(Instant.ofEpochMilli(1_700_000_000_000L))
                .build();
    }

    @Test
    void publishesConfluentWireFormatKeyedByModelAndRefusesInvalidCorrectionsBeforeSending() throws Exception {
        SerdeSettings serde = SerdeSettings.apicurio(stack.registry().apiUrl());
        try (var publisher = new CorrectionPublisher(stack.kafka().bootstrapServers(), serde,
                ValidationRules.forModels(java.util.Set.of("gpt2-xl")), Map.of())) {
            publisher.publish(correction("c-1", "English")).get(30, TimeUnit.SECONDS);
            var invalid = assertThrows(InvalidCorrectionException.class, () -> publisher.publish(correction("c-2", "French")));
            assertEquals(DeadLetterReason.TARGET_EQUALS_TRUE, invalid.rejection().reason());
            assertTrue(invalid.getMessage().contains("c-2"), invalid.getMessage());
            publisher.publish(correction("c-3", "German")).get(30, TimeUnit.SECONDS);
        }

        List<ConsumerRecord<String, byte[]>> records = readAll(2);
        assertEquals(List.of("gpt2-xl", "gpt2-xl"), records.stream().map(ConsumerRecord::key).toList());
        assertEquals(records.get(0).partition(), records.get(1).partition(), "one model, one partition");

        byte[] bytes = records.get(0).value();
        assertEquals(0, bytes[0], "Confluent magic byte");
        int schemaId = ByteBuffer.wrap(bytes, 1, 4).getInt();
        HttpResponse<String> schemaResponse = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(stack.registry().confluentCompatibleUrl() + "/schemas/ids/" + schemaId)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, schemaResponse.statusCode(), schemaResponse.body());
        String schemaJson = new com.fasterxml.jackson.databind.ObjectMapper().readTree(schemaResponse.body()).get("schema").asText();
        Schema writerSchema = new Schema.Parser().parse(schemaJson);

        // a Confluent-style decoder: writer schema by id from the ccompat API, Avro binary after the 5-byte prefix
        var reader = new SpecificDatumReader<CorrectionEvent>(writerSchema, CorrectionEvent.getClassSchema());
        CorrectionEvent decoded = reader.read(null, DecoderFactory.get().binaryDecoder(bytes, 5, bytes.length - 5, null));
        assertEquals(correction("c-1", "English"), decoded);

        // and the configured serde reads it back too
        try (var valueSerde = serde.valueSerde(CorrectionEvent.class)) {
            assertEquals(correction("c-3", "German"), valueSerde.deserializer().deserialize(Topics.CORRECTIONS, records.get(1).value()));
        }
    }

    private static List<ConsumerRecord<String, byte[]>> readAll(int expected) {
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        try (var consumer = new KafkaConsumer<String, byte[]>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "publisher-it",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"), new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(Topics.CORRECTIONS));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (out.size() < expected && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(300)).forEach(out::add);
            }
            // nothing beyond what was expected arrives (the invalid correction was never sent)
            consumer.poll(Duration.ofSeconds(1)).forEach(out::add);
        }
        out.sort(java.util.Comparator.comparingLong(ConsumerRecord::offset));
        return out;
    }
}

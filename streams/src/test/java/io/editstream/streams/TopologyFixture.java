package io.editstream.streams;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

import io.editstream.events.CorrectionEvent;
import io.editstream.events.DeadLetter;
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import io.editstream.events.SerdeSettings;

/**
 * The topology under {@link TopologyTestDriver} with real Avro bytes (the registry-free test serde), a wall clock
 * that starts at {@link #START} and moves only when told, and helpers to feed corrections and read what came out.
 */
final class TopologyFixture implements AutoCloseable {
    static final Instant START = Instant.parse("2026-03-01T12:00:00Z");
    static final String MODEL = "gpt2-xl";
    static final String OTHER_MODEL = "llama3-8b";
    static final Set<String> MODELS = Set.of(MODEL, OTHER_MODEL);

    /** A CorrectionEvent writer schema without the required {@code source} field (no default). */
    static final Schema WITHOUT_SOURCE = withoutField("source");

    private final TopologyTestDriver driver;
    private final TopologySettings settings;
    private final SerdeSettings serdes = serdes();
    private final TestInputTopic<byte[], byte[]> corrections;
    private final TestOutputTopic<String, EditBatch> editRequests;
    private final TestOutputTopic<byte[], DeadLetter> deadLetters;

    TopologyFixture(TopologySettings settings, Path stateDir) {
        this.settings = settings;
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "corrections-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        driver = new TopologyTestDriver(CorrectionsTopology.build(settings, serdes, 1), props, START);
        corrections = driver.createInputTopic(settings.correctionsTopic(), Serdes.ByteArray().serializer(),
                Serdes.ByteArray().serializer(), START, Duration.ZERO);
        editRequests = driver.createOutputTopic(settings.editRequestsTopic(), Serdes.String().deserializer(),
                deserializer(EditBatch.class));
        deadLetters = driver.createOutputTopic(settings.deadLetterTopic(), Serdes.ByteArray().deserializer(),
                deserializer(DeadLetter.class));
    }

    static TopologySettings settings() {
        return TopologySettings.defaults(MODELS);
    }

    static SerdeSettings serdes() {
        return new SerdeSettings(TestAvroSerializer.class.getName(), TestAvroDeserializer.class.getName(),
                Map.of(TestAvroDeserializer.WRITER_SCHEMAS, List.of(WITHOUT_SOURCE.toString())));
    }

    /** A valid correction of {@link #MODEL}: "{subject} is located in" → target, detected {@code atMs} after START. */
    static CorrectionEvent correction(String id, String subject, String target, long atMs) {
        return correction(id, MODEL, subject, target, atMs);
    }

    static CorrectionEvent correction(String id, String model, String subject, String target, long atMs) {
        return CorrectionEvent.newBuilder()
                .setCorrectionId(id)
                .setModelId(model)
                .setSubject(subject)
                .setPrompt("{} is located in")
                .setTargetNew(target)
                .setTargetTrue(null)
                .setSource("test-detector/1")
                .setConfidence(0.9)
                .setDetectedAt(START.plusMillis(atMs))
                .build();
    }

    void send(CorrectionEvent correction) {
        send(correction.getModelId(), correction);
    }

    void send(String key, CorrectionEvent correction) {
        sendRaw(key == null ? null : key.getBytes(StandardCharsets.UTF_8),
                serdes.valueSerde(CorrectionEvent.class).serializer()
                        .serialize(settings.correctionsTopic(), correction));
    }

    void sendRaw(byte[] key, byte[] value) {
        corrections.pipeInput(key, value);
    }

    /** Lets wall-clock time pass the way it does for a running application: checks every punctuation interval. */
    void advanceWallClock(Duration by) {
        Duration step = settings.punctuateInterval();
        for (Duration left = by; !left.isZero(); ) {
            Duration next = left.compareTo(step) < 0 ? left : step;
            driver.advanceWallClockTime(next);
            left = left.minus(next);
        }
    }

    /** The batches emitted since the last call. */
    List<EditBatch> batches() {
        return editRequests.readValuesToList();
    }

    /** The edits emitted since the last call, in output order. */
    List<EditRequest> edits() {
        return batches().stream().flatMap(b -> b.getEdits().stream()).toList();
    }

    List<DeadLetter> deadLetters() {
        return deadLetters.readValuesToList();
    }

    /** A window store of the topology, to write state as an earlier version of the application left it. */
    <K, V> WindowStore<K, V> windowStore(String name) {
        return driver.getWindowStore(name);
    }

    /** A key-value store of the topology, to write state as an earlier version of the application left it. */
    <K, V> KeyValueStore<K, V> keyValueStore(String name) {
        return driver.getKeyValueStore(name);
    }

    long counter(String name) {
        return PipelineMetrics.total(driver.metrics(), name);
    }

    private <T extends SpecificRecord> Deserializer<T> deserializer(Class<T> type) {
        return serdes.valueSerde(type).deserializer();
    }

    private static Schema withoutField(String dropped) {
        Schema full = CorrectionEvent.getClassSchema();
        var fields = SchemaBuilder.record(full.getName()).namespace(full.getNamespace()).fields();
        for (Schema.Field field : full.getFields()) {
            if (!field.name().equals(dropped)) {
                fields = fields.name(field.name()).type(field.schema()).noDefault();
            }
        }
        return fields.endRecord();
    }

    @Override
    public void close() {
        driver.close();
    }
}

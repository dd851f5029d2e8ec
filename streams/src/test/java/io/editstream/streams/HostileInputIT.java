package io.editstream.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.zip.CRC32;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Partitioner;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.editstream.embedded.EmbeddedStack;
import io.editstream.events.CorrectionEvent;
import io.editstream.events.DeadLetter;
import io.editstream.events.DeadLetterReason;
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import io.editstream.events.SerdeSettings;

/**
 * The topology against input a hostile (or just careless) detector sends, on a real broker and registry: records
 * of 0.4, 1 and 2 MB, valid corrections of multi-byte text near the limits, a registry outage, a producer with
 * another partitioner, corrections older than the dedup window, a store entry written with an older schema, and a
 * record no thread can get past. Each test ends with every valid correction sequenced exactly once and every other
 * record in the DLQ with its reason and (a digest of) its original bytes.
 */
class HostileInputIT {
    private static final Logger log = LoggerFactory.getLogger(HostileInputIT.class);
    private static final List<String> MODELS = List.of("model-a", "model-b", "model-c", "model-d", "model-e");
    private static final int PARTITIONS = 3;

    private static EmbeddedStack stack;
    private static SerdeSettings serdes;

    @TempDir
    Path stateDir;

    @BeforeAll
    static void startStack() {
        stack = EmbeddedStack.start(Map.of());
        serdes = SerdeSettings.apicurio(stack.registry().apiUrl());
    }

    @AfterAll
    static void stopStack() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void recordsOfMegabytesGoToTheDeadLetterTopicAndValidOnesBehindThemAreSequenced() throws Exception {
        TopologySettings settings = settings("big", Map.of(TopologySettings.BATCH_MAX_EDITS, "10",
                TopologySettings.BATCH_LINGER_MS, "300"));
        createTopics(settings, Map.of("max.message.bytes", String.valueOf(4 << 20)));
        Random random = new Random(5);
        Map<String, DeadLetterReason> refused = new HashMap<>();
        List<String> valid = new ArrayList<>();
        try (CorrectionsApp app = CorrectionsApp.start(bootstrap(), settings, serdes, overrides("big", Map.of()));
                KafkaProducer<byte[], byte[]> producer = producer(Map.of(ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
                        8 << 20))) {
            for (int size : new int[] {400 * 1024, 1 << 20, 2 << 20}) {
                byte[] garbage = new byte[size];
                random.nextBytes(garbage);
                send(producer, settings, "model-a", garbage);
                refused.put(sha256(garbage), DeadLetterReason.OVERSIZED_RECORD);
            }
            // Paraphrases of 3-byte characters: 48 of 4,095 bytes (1,365 characters) each, about 197 KB a correction;
            // two fill most of a batch's 512 KiB budget, which a third would pass.
            List<String> paraphrases = Collections.nCopies(48, "\u20ac".repeat(1_365));
            for (int i = 0; i < 4; i++) {
                CorrectionEvent big = correction("big-" + i, "model-a", "subject " + i, Instant.now())
                        .setParaphrases(paraphrases).build();
                send(producer, settings, "model-a", serialize(big));
                valid.add(big.getCorrectionId());
            }
            // One more paraphrase list of the same size makes a correction of more than 256 KiB.
            CorrectionEvent tooBig = correction("too-big", "model-a", "subject x", Instant.now())
                    .setParaphrases(Collections.nCopies(64, "\u20ac".repeat(1_365))).build();
            byte[] tooBigBytes = serialize(tooBig);
            send(producer, settings, "model-a", tooBigBytes);
            refused.put(sha256(tooBigBytes), DeadLetterReason.OVERSIZED_RECORD);
            CorrectionEvent after = correction("after", "model-a", "subject after", Instant.now()).build();
            send(producer, settings, "model-a", serialize(after));
            valid.add("after");
            producer.flush();

            List<EditBatch> batches = read(settings.editRequestsTopic(), EditBatch.class,
                    all -> edits(all).size() >= valid.size());
            assertSequencedOnce(Map.of("model-a", valid), batches);
            for (EditBatch batch : batches) {
                long big = batch.getEdits().stream().filter(e -> e.getCorrectionId().startsWith("big-")).count();
                assertTrue(big <= 2, "the byte budget closes a batch before a third big edit: " + big);
            }
            List<DeadLetter> deadLetters = read(settings.deadLetterTopic(), DeadLetter.class,
                    all -> all.size() >= refused.size());
            assertDeadLetters(refused, deadLetters);
            DeadLetter twoMegabytes = deadLetters.stream()
                    .filter(dl -> dl.getOriginalValueLength() == 2 << 20).findFirst().orElseThrow();
            assertTrue(twoMegabytes.getOriginalTruncated());
            assertEquals(TopologySettings.DEFAULT_DLQ_MAX_ORIGINAL_BYTES - "model-a".length(),
                    twoMegabytes.getOriginalValue().remaining());
            assertFalse(deadLetters.stream().filter(dl -> dl.getOriginalValueLength() == 400 * 1024).findFirst()
                    .orElseThrow().getOriginalTruncated(), "0.4 MB fits whole");
            assertEquals(KafkaStreams.State.RUNNING, app.state());
        }
    }

    @Test
    void aThreadDyingAgainAndAgainOnOneRecordStopsTheAppNamingIt() throws Exception {
        TopologySettings settings = settings("dies", Map.of(TopologySettings.MAX_FAILURES_PER_RECORD, "2"));
        // A producer limit below what the topology may write is refused before anything starts.
        IllegalArgumentException refused = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> CorrectionsApp.start(bootstrap(), settings, serdes,
                        overrides("dies", Map.of(StreamsConfig.producerPrefix(
                                ProducerConfig.MAX_REQUEST_SIZE_CONFIG), 200_000))));
        assertTrue(refused.getMessage().contains("max.request.size"), refused.getMessage());

        // An edit-requests topic whose record limit is below a valid edit: the edit can be neither written nor
        // skipped (skipping would leave a gap in its model's sequence), so the thread dies on it each time.
        createTopics(settings, Map.of());
        try (var admin = stack.kafka().admin()) {
            admin.incrementalAlterConfigs(Map.of(
                    new org.apache.kafka.common.config.ConfigResource(
                            org.apache.kafka.common.config.ConfigResource.Type.TOPIC, settings.editRequestsTopic()),
                    List.of(new org.apache.kafka.clients.admin.AlterConfigOp(
                            new org.apache.kafka.clients.admin.ConfigEntry("max.message.bytes", "20000"),
                            org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET)))).all().get();
        }
        // A replaced thread's partitions come back after its consumer's session times out (45 s by default).
        Map<String, Object> quickRebalance = Map.of(
                StreamsConfig.mainConsumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6_000,
                StreamsConfig.mainConsumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1_500);
        try (CorrectionsApp app = CorrectionsApp.start(bootstrap(), settings, serdes, overrides("dies",
                quickRebalance)); KafkaProducer<byte[], byte[]> producer = producer(Map.of())) {
            CorrectionEvent big = correction("big", "model-c", "s", Instant.now())
                    .setParaphrases(Collections.nCopies(10, "x".repeat(4_000))).build();
            send(producer, settings, "model-c", serialize(big));
            producer.flush();
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (app.state() != KafkaStreams.State.ERROR && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertEquals(KafkaStreams.State.ERROR, app.state());
            String failure = app.failure().orElseThrow();
            log.info("failure: {}", failure);
            // Released by the reorder buffer's punctuation, the edit has no input record: the message names the
            // output record and its task (an edit written while processing its input names that input's offset).
            assertTrue(failure.contains("2 times") && failure.contains(settings.editRequestsTopic())
                    && failure.contains("'model-c'"), failure);
        }
    }

    @Test
    void aRegistryOutageHoldsThePartitionsThatNeedItAndLosesNothing() throws Exception {
        TopologySettings settings = settings("outage", Map.of());
        createTopics(settings, Map.of());
        try (RegistryOutage registry = new RegistryOutage(stack.registry().apiUrl());
                KafkaProducer<byte[], byte[]> producer = producer(Map.of())) {
            SerdeSettings viaRelay = SerdeSettings.apicurio(registry.apiUrl());
            // Down from the start: refused with a clear error, instead of threads failing on every dead letter.
            registry.stop();
            IllegalStateException down = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> CorrectionsApp.start(bootstrap(), settings, viaRelay, overrides("outage", Map.of())));
            assertTrue(down.getMessage().contains("schema registry"), down.getMessage());
            registry.start();
            try (CorrectionsApp app = CorrectionsApp.start(bootstrap(), settings, viaRelay, overrides("outage",
                    Map.of()))) {
                // Partition 0's task decodes one correction, so its deserializer knows the schema id.
                send(producer, settings, 0, "model-a", serialize(correction("warm", "model-a", "s0", Instant.now())
                        .build()));
                producer.flush();
                read(settings.editRequestsTopic(), EditBatch.class, all -> !all.isEmpty());

                registry.stop();
                log.info("registry unreachable");
                Map<String, List<String>> expected = new HashMap<>();
                expected.computeIfAbsent("model-a", m -> new ArrayList<>()).add("warm");
                for (int i = 0; i < 10; i++) {
                    int partition = i % 2; // partition 1's task has never decoded anything
                    String model = partition == 0 ? "model-a" : "model-b";
                    send(producer, settings, partition, model, serialize(correction("c" + i, model, "s" + i,
                            Instant.now()).build()));
                    expected.computeIfAbsent(model, m -> new ArrayList<>()).add("c" + i);
                }
                producer.flush();
                List<EditBatch> during = read(settings.editRequestsTopic(), EditBatch.class,
                        all -> edits(all).size() >= 6);
                assertEquals(6, edits(during).size(), "partition 0 goes on; partition 1 waits");
                assertTrue(PipelineMetrics.total(app.metrics(), PipelineMetrics.REGISTRY_WAITS) >= 5);

                registry.start();
                log.info("registry reachable again");
                List<EditBatch> batches = read(settings.editRequestsTopic(), EditBatch.class,
                        all -> edits(all).size() >= 11);
                assertSequencedOnce(expected, batches);
                assertEquals(List.of(), read(settings.deadLetterTopic(), DeadLetter.class, all -> true));
            }
        }
    }

    @Test
    void aProducerWithAnotherPartitionerAndCorrectionsOlderThanTheWindow() throws Exception {
        TopologySettings settings = settings("partitioners", Map.of());
        createTopics(settings, Map.of());
        List<String> movedModels = MODELS.stream().filter(m -> crc32Partition(m) != murmur2Partition(m)).toList();
        assertFalse(movedModels.isEmpty(), "some model lands on another partition under CRC32");
        Map<String, List<String>> expected = new HashMap<>();
        Map<String, DeadLetterReason> refused = new HashMap<>();
        try (CorrectionsApp app = CorrectionsApp.start(bootstrap(), settings, serdes,
                overrides("partitioners", Map.of()));
                KafkaProducer<byte[], byte[]> murmur2 = producer(Map.of());
                KafkaProducer<byte[], byte[]> crc32 = producer(Map.of(ProducerConfig.PARTITIONER_CLASS_CONFIG,
                        Crc32Partitioner.class.getName()))) {
            Instant base = Instant.now().minusSeconds(30);
            for (int i = 0; i < 40; i++) {
                String model = MODELS.get(i % MODELS.size());
                KafkaProducer<byte[], byte[]> producer = i % 2 == 0 ? murmur2 : crc32;
                String id = "p" + i;
                send(producer, settings, model, serialize(correction(id, model, "s" + i, base.plusMillis(i)).build()));
                expected.computeIfAbsent(model, m -> new ArrayList<>()).add(id);
            }
            // Eight days old, sent twice: refused both times, never sequenced.
            byte[] old = serialize(correction("old", "model-a", "old subject", Instant.now().minus(Duration.ofDays(8)))
                    .build());
            send(murmur2, settings, "model-a", old);
            send(crc32, settings, "model-a", old);
            refused.put(sha256(old), DeadLetterReason.TOO_OLD);
            murmur2.flush();
            crc32.flush();

            List<EditBatch> batches = read(settings.editRequestsTopic(), EditBatch.class,
                    all -> edits(all).size() >= 40);
            assertSequencedOnce(expected, batches);
            List<DeadLetter> deadLetters = read(settings.deadLetterTopic(), DeadLetter.class, all -> all.size() >= 2);
            assertEquals(2, deadLetters.size());
            deadLetters.forEach(dl -> assertEquals(DeadLetterReason.TOO_OLD, dl.getReason(), dl.getMessage()));
            assertDeadLetters(refused, deadLetters.subList(0, 1));
            assertEquals(2, PipelineMetrics.total(app.metrics(), PipelineMetrics.DEAD_LETTERS));
        }
    }

    @Test
    void aReorderBufferEntryWrittenWithAnOlderSchemaIsReadAfterTheUpgrade() throws Exception {
        TopologySettings settings = settings("upgrade", Map.of());
        createTopics(settings, Map.of());
        String applicationId = "it-upgrade";
        // What the previous release left in the reorder buffer's changelog: a held correction, written with the
        // older EditRequest schema (before late and trace_context), in the partition of its model's task.
        Schema older = new Schema.Parser().parse(HostileInputIT.class.getResourceAsStream(
                "/io/editstream/events/released/v0/EditRequest.avsc"));
        Instant detectedAt = Instant.now().minusSeconds(20);
        GenericRecord held = new GenericData.Record(older);
        held.put("sequence", 0L);
        held.put("correction_id", "held");
        held.put("subject", "Rome");
        held.put("prompt_template", "{} is located in");
        held.put("target_new", "Spain");
        held.put("target_true", null);
        held.put("paraphrases", List.of());
        held.put("neighborhood_prompts", List.of());
        held.put("source", "old-release/1");
        held.put("confidence", 0.5);
        held.put("detected_at", detectedAt.toEpochMilli());
        byte[] request = encode(older, held);
        byte[] pending = ByteBuffer.allocate(4 + request.length + 4).putInt(request.length).put(request).putInt(0)
                .array();
        String changelog = applicationId + "-" + CorrectionsTopology.REORDER_BUFFER_STORE + "-changelog";
        try (var admin = stack.kafka().admin()) {
            admin.createTopics(List.of(new NewTopic(changelog, PARTITIONS, (short) 1)
                    .configs(Map.of("cleanup.policy", "compact")))).all().get();
        }
        try (KafkaProducer<byte[], byte[]> producer = producer(Map.of())) {
            producer.send(new ProducerRecord<>(changelog, murmur2Partition("model-d"),
                    BufferKey.of("model-d", detectedAt.toEpochMilli(), "held").get(), pending)).get();
        }
        try (CorrectionsApp app = CorrectionsApp.start(bootstrap(), settings, serdes,
                overrides("upgrade", Map.of()));
                KafkaProducer<byte[], byte[]> producer = producer(Map.of())) {
            send(producer, settings, "model-d", serialize(correction("new", "model-d", "Paris", Instant.now())
                    .build()));
            producer.flush();
            List<EditBatch> batches = read(settings.editRequestsTopic(), EditBatch.class,
                    all -> edits(all).size() >= 2);
            assertSequencedOnce(Map.of("model-d", List.of("held", "new")), batches);
            EditRequest restored = edits(batches).get(0);
            assertEquals("Spain", restored.getTargetNew());
            assertFalse(restored.getLate());
            assertEquals(Map.of(), restored.getTraceContext());
            assertEquals(KafkaStreams.State.RUNNING, app.state());
        }
    }

    /** librdkafka's default partitioner: CRC32 of the key, modulo the partition count. */
    public static final class Crc32Partitioner implements Partitioner {
        @Override
        public int partition(String topic, Object key, byte[] keyBytes, Object value, byte[] valueBytes,
                Cluster cluster) {
            return crc32Partition(new String(keyBytes, StandardCharsets.UTF_8));
        }

        @Override
        public void configure(Map<String, ?> configs) {
        }

        @Override
        public void close() {
        }
    }

    private static int crc32Partition(String key) {
        CRC32 crc = new CRC32();
        crc.update(key.getBytes(StandardCharsets.UTF_8));
        return (int) (crc.getValue() % PARTITIONS);
    }

    private static int murmur2Partition(String key) {
        return Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % PARTITIONS;
    }

    /** Each model's edits: gap-free from 1, every expected correction exactly once, nothing else. */
    private static void assertSequencedOnce(Map<String, List<String>> expected, List<EditBatch> batches) {
        Map<String, List<EditRequest>> byModel = new HashMap<>();
        for (EditBatch batch : batches) {
            assertEquals(batch.getFirstSequence() + batch.getEdits().size() - 1, batch.getLastSequence());
            byModel.computeIfAbsent(batch.getModelId(), m -> new ArrayList<>()).addAll(batch.getEdits());
        }
        assertEquals(expected.keySet(), byModel.keySet());
        expected.forEach((model, ids) -> {
            List<EditRequest> edits = byModel.get(model);
            for (int i = 0; i < edits.size(); i++) {
                assertEquals(i + 1, edits.get(i).getSequence(), model + ": gap-free, each number once");
            }
            assertEquals(ids.stream().sorted().toList(),
                    edits.stream().map(EditRequest::getCorrectionId).sorted().toList(), model);
        });
    }

    /** Each dead letter's original is one of the refused ones (by SHA-256), with its reason, each once. */
    private static void assertDeadLetters(Map<String, DeadLetterReason> refused, List<DeadLetter> deadLetters) {
        assertEquals(refused.size(), deadLetters.size());
        for (DeadLetter dl : deadLetters) {
            assertEquals(refused.get(dl.getOriginalValueSha256()), dl.getReason(), dl.getMessage());
            assertNotEquals(-1, dl.getSourceOffset());
            if (!dl.getOriginalTruncated()) {
                byte[] whole = new byte[dl.getOriginalValue().remaining()];
                dl.getOriginalValue().duplicate().get(whole);
                assertEquals(dl.getOriginalValueSha256(), sha256(whole));
            }
        }
        assertEquals(refused.size(), deadLetters.stream().map(DeadLetter::getOriginalValueSha256).distinct().count());
    }

    private static List<EditRequest> edits(List<EditBatch> batches) {
        return batches.stream().flatMap(b -> b.getEdits().stream()).toList();
    }

    private static CorrectionEvent.Builder correction(String id, String model, String subject, Instant at) {
        return CorrectionEvent.newBuilder(MixedCorrectionStream.correction(id, model, subject, "target " + id, at));
    }

    private static byte[] serialize(CorrectionEvent c) {
        return serdes.valueSerde(CorrectionEvent.class).serializer().serialize("corrections", c);
    }

    private static byte[] encode(Schema schema, GenericRecord record) {
        try {
            ByteBuffer buffer = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), schema).encode(record);
            byte[] out = new byte[buffer.remaining()];
            buffer.get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void send(KafkaProducer<byte[], byte[]> producer, TopologySettings settings, String key,
            byte[] value) {
        producer.send(new ProducerRecord<>(settings.correctionsTopic(), key.getBytes(StandardCharsets.UTF_8), value));
    }

    private static void send(KafkaProducer<byte[], byte[]> producer, TopologySettings settings, int partition,
            String key, byte[] value) {
        producer.send(new ProducerRecord<>(settings.correctionsTopic(), partition,
                key.getBytes(StandardCharsets.UTF_8), value));
    }

    /** Reads a topic from the start (read_committed) until the condition holds (60 s at most), then 1 s more. */
    private static <T extends SpecificRecord> List<T> read(String topic, Class<T> type, Predicate<List<T>> done) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "it-reader-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 8 << 20);
        Deserializer<T> deserializer = serdes.valueSerde(type).deserializer();
        List<T> values = new ArrayList<>();
        try (KafkaConsumer<byte[], T> consumer =
                new KafkaConsumer<>(p, Serdes.ByteArray().deserializer(), deserializer)) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            long settleUntil = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(deadline, settleUntil)) {
                for (ConsumerRecord<byte[], T> r : consumer.poll(Duration.ofMillis(200))) {
                    values.add(r.value());
                }
                if (settleUntil == Long.MAX_VALUE && done.test(values)) {
                    settleUntil = System.nanoTime() + Duration.ofSeconds(1).toNanos();
                }
            }
        }
        return values;
    }

    private static TopologySettings settings(String prefix, Map<String, String> extra) {
        Properties p = new Properties();
        p.setProperty(TopologySettings.MODELS, String.join(",", MODELS));
        p.setProperty(TopologySettings.CORRECTIONS_TOPIC, prefix + ".corrections");
        p.setProperty(TopologySettings.EDIT_REQUESTS_TOPIC, prefix + ".edit-requests");
        p.setProperty(TopologySettings.DLQ_TOPIC, prefix + ".dlq");
        p.setProperty(TopologySettings.GRACE_MS, "500");
        p.setProperty(TopologySettings.BATCH_LINGER_MS, "100");
        extra.forEach(p::setProperty);
        return TopologySettings.fromProperties(p);
    }

    private static void createTopics(TopologySettings settings, Map<String, String> configs) throws Exception {
        try (var admin = stack.kafka().admin()) {
            admin.createTopics(CorrectionsApp.topicPartitions(settings, PARTITIONS).entrySet().stream()
                    .map(e -> new NewTopic(e.getKey(), e.getValue(), (short) 1).configs(configs))
                    .toList()).all().get();
        }
    }

    private Map<String, Object> overrides(String name, Map<String, Object> extra) {
        Map<String, Object> overrides = new HashMap<>();
        overrides.put(StreamsConfig.APPLICATION_ID_CONFIG, "it-" + name);
        overrides.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.resolve(name).toString());
        overrides.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 50);
        overrides.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        overrides.putAll(extra);
        return overrides;
    }

    private static KafkaProducer<byte[], byte[]> producer(Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.putAll(extra);
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private static String bootstrap() {
        return stack.kafka().bootstrapServers();
    }
}

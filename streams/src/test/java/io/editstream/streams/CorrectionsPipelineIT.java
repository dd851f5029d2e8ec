package io.editstream.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serdes;
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
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import io.editstream.events.SerdeSettings;

/** The topology on a real broker and registry (Apicurio serde, exactly-once), including stops and restarts. */
class CorrectionsPipelineIT {
    private static final Logger log = LoggerFactory.getLogger(CorrectionsPipelineIT.class);
    private static final List<String> MODELS = List.of("model-a", "model-b", "model-c", "model-d", "model-e");
    private static final Duration GRACE = Duration.ofMillis(1_000);

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
    void tenThousandMixedCorrectionsWithARestartHalfway() throws Exception {
        TopologySettings settings = settings("mixed");
        int threads = 3;
        MixedCorrectionStream stream = new MixedCorrectionStream(MODELS, 10_000, 0.20, 0.05, GRACE.dividedBy(2),
                threads, settings.correctionsTopic(), serdes, 42);
        Map<String, Object> overrides = streamsOverrides("mixed");

        ExecutorService producers = Executors.newFixedThreadPool(threads);
        try {
            CorrectionsApp app = CorrectionsApp.start(bootstrap(), settings, serdes, overrides);
            // Detectors send in real time (event time follows the wall clock) and keep sending throughout.
            List<Future<?>> sending = startProducing(producers, stream, settings, threads);
            try {
                Thread.sleep(stream.span().dividedBy(2).toMillis());
            } finally {
                app.close(); // mid-stream: edits sequenced, corrections held in the reorder buffer, input unread
            }
            log.info("topology stopped halfway; detectors keep sending");
            try (CorrectionsApp restarted = CorrectionsApp.start(bootstrap(), settings, serdes, overrides)) {
                for (Future<?> f : sending) {
                    f.get();
                }
                log.info("all sent; waiting for {} edits", stream.expectedEdits());
                List<EditBatch> batches = readUntil(settings.editRequestsTopic(), deserializer(EditBatch.class),
                        all -> editCount(all) >= stream.expectedEdits());
                List<DeadLetter> deadLetters = readUntil(settings.deadLetterTopic(), deserializer(DeadLetter.class),
                        all -> all.size() >= stream.expectedDeadLetters.size());

                assertEditRequests(stream, batches);
                assertDeadLetters(stream, deadLetters);
                assertEquals(0, PipelineMetrics.total(restarted.metrics(), PipelineMetrics.LATE));
            }
        } finally {
            producers.shutdownNow();
        }
    }

    @Test
    void sequenceNumbersAndAnOpenBatchContinueAfterARestartThatRestoresStateFromTheChangelog() throws Exception {
        TopologySettings settings = settings("restart").withGrace(Duration.ZERO).withBatching(5, Duration.ofHours(1));
        Map<String, Object> overrides = streamsOverrides("restart");
        try (KafkaProducer<byte[], byte[]> producer = producer()) {
            try (CorrectionsApp app = CorrectionsApp.start(bootstrap(), settings, serdes, overrides)) {
                for (int i = 0; i < 7; i++) {
                    send(producer, settings, i);
                }
                producer.flush();
                readUntil(settings.editRequestsTopic(), deserializer(EditBatch.class), all -> editCount(all) >= 5);
                awaitCommitted(overrides, settings.correctionsTopic(), 7); // edits 6 and 7 wait in an open batch
                assertEquals(KafkaStreams.State.RUNNING, app.state());
            }
            // A fresh machine: everything must come back from the changelog topics.
            deleteRecursively(Path.of(overrides.get(StreamsConfig.STATE_DIR_CONFIG).toString()));

            try (CorrectionsApp app = CorrectionsApp.start(bootstrap(), settings, serdes, overrides)) {
                send(producer, settings, 0); // a retry of an applied correction: the dedup memory was restored too
                for (int i = 7; i < 10; i++) {
                    send(producer, settings, i);
                }
                producer.flush();
                List<EditBatch> batches = readUntil(settings.editRequestsTopic(), deserializer(EditBatch.class),
                        all -> editCount(all) >= 10);
                assertEquals(List.of(1L, 6L), batches.stream().map(EditBatch::getFirstSequence).toList());
                assertEquals(List.of(5L, 10L), batches.stream().map(EditBatch::getLastSequence).toList());
                List<EditRequest> edits = batches.stream().flatMap(b -> b.getEdits().stream()).toList();
                assertEquals(LongStream.rangeClosed(1, 10).boxed().toList(),
                        edits.stream().map(EditRequest::getSequence).toList());
                assertEquals(IntStream.range(0, 10).mapToObj(i -> "r-" + i).toList(),
                        edits.stream().map(EditRequest::getCorrectionId).toList());
                assertEquals(1, PipelineMetrics.total(app.metrics(), PipelineMetrics.EXACT_DUPLICATES));
            }
        }
    }

    /** Waits until the application has committed (with its state, exactly-once) this many input records. */
    private static void awaitCommitted(Map<String, Object> overrides, String topic, long records) throws Exception {
        String group = overrides.get(StreamsConfig.APPLICATION_ID_CONFIG).toString();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        try (var admin = stack.kafka().admin()) {
            while (true) {
                long committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get()
                        .entrySet().stream().filter(e -> e.getKey().topic().equals(topic) && e.getValue() != null)
                        .mapToLong(e -> e.getValue().offset()).sum();
                if (committed >= records) {
                    return;
                }
                assertTrue(System.nanoTime() < deadline, "the application committed " + committed + " of "
                        + records + " records of " + topic + " in 60 s");
                Thread.sleep(50);
            }
        }
    }

    private static int editCount(List<EditBatch> batches) {
        return batches.stream().mapToInt(b -> b.getEdits().size()).sum();
    }

    private static void send(KafkaProducer<byte[], byte[]> producer, TopologySettings settings, int i) {
        var c = MixedCorrectionStream.correction("r-" + i, MODELS.get(0), "subject " + i, "target",
                Instant.now().minusSeconds(60).plusMillis(i));
        producer.send(new ProducerRecord<>(settings.correctionsTopic(), c.getModelId().getBytes(StandardCharsets.UTF_8),
                serdes.valueSerde(CorrectionEvent.class).serializer()
                        .serialize(settings.correctionsTopic(), c)));
    }

    private static void assertEditRequests(MixedCorrectionStream stream, List<EditBatch> batches) {
        Map<String, List<EditBatch>> byModel = new HashMap<>();
        batches.forEach(b -> byModel.computeIfAbsent(b.getModelId(), m -> new ArrayList<>()).add(b));
        assertEquals(Set.copyOf(MODELS), byModel.keySet());
        for (String model : MODELS) {
            List<EditRequest> edits = new ArrayList<>();
            long expectedFirst = 1;
            for (EditBatch batch : byModel.get(model)) {
                assertEquals(expectedFirst, batch.getFirstSequence(), model + ": batches are contiguous");
                assertEquals(batch.getFirstSequence() + batch.getEdits().size() - 1, batch.getLastSequence());
                expectedFirst = batch.getLastSequence() + 1;
                edits.addAll(batch.getEdits());
            }
            List<MixedCorrectionStream.ExpectedEdit> expected = stream.expectedByModel.get(model);
            assertEquals(expected.size(), edits.size(), model + ": every unique correction exactly once");
            for (int i = 0; i < edits.size(); i++) {
                EditRequest edit = edits.get(i);
                MixedCorrectionStream.ExpectedEdit want = expected.get(i);
                assertEquals(i + 1, edit.getSequence(), model + ": gap-free sequence");
                assertEquals(want.subject(), edit.getSubject(), () -> model + " #" + (edit.getSequence())
                        + ": event-time order; " + want.subject() + " is at " + edits.stream()
                        .filter(e -> e.getSubject().equals(want.subject()))
                        .map(e -> "#" + e.getSequence() + (e.getLate() ? " (late)" : "")).toList());
                assertEquals(want.detectedAt(), edit.getDetectedAt());
                assertTrue(want.ids().contains(edit.getCorrectionId()), edit.getCorrectionId());
                assertFalse(edit.getLate(), "shuffled within the grace period: nothing is late");
            }
            assertTrue(byModel.get(model).stream().allMatch(b -> b.getSuperseded().isEmpty()));
        }
    }

    private static void assertDeadLetters(MixedCorrectionStream stream, List<DeadLetter> deadLetters) {
        assertEquals(stream.expectedDeadLetters.size(), deadLetters.size(), "each bad record refused exactly once");
        Map<String, Integer> unmatched = new HashMap<>();
        for (DeadLetter dl : deadLetters) {
            String value = HexFormat.of().formatHex(bytes(dl.getOriginalValue()));
            var reason = stream.expectedDeadLetters.get(value);
            if (reason == null || reason != dl.getReason()) {
                unmatched.merge(dl.getReason() + ": " + dl.getMessage(), 1, Integer::sum);
            }
        }
        assertEquals(Map.of(), unmatched, "dead letters with an unexpected reason or record");
        assertEquals(stream.expectedDeadLetters.size(),
                deadLetters.stream().map(dl -> HexFormat.of().formatHex(bytes(dl.getOriginalValue())))
                        .distinct().count());
    }

    /** One producer per thread, each sending its records at their place on the stream's timeline. */
    private static List<Future<?>> startProducing(ExecutorService producers, MixedCorrectionStream stream,
            TopologySettings settings, int threads) {
        long start = System.nanoTime();
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            List<MixedCorrectionStream.Outgoing> mine = stream.forThread(t);
            futures.add(producers.submit(() -> {
                try (KafkaProducer<byte[], byte[]> producer = producer()) {
                    for (MixedCorrectionStream.Outgoing r : mine) {
                        long wait = start + stream.offset(r).toNanos() - System.nanoTime();
                        if (wait > 0) {
                            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                        }
                        producer.send(new ProducerRecord<>(settings.correctionsTopic(), r.key(), r.value()));
                    }
                    producer.flush();
                }
                return null;
            }));
        }
        return futures;
    }

    /** Reads a topic from the start with read_committed until the condition holds (60 s at most), then 1 s more. */
    private static <T> List<T> readUntil(String topic, Deserializer<T> deserializer, Predicate<List<T>> done) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "it-reader-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
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
                    settleUntil = System.nanoTime() + Duration.ofSeconds(1).toNanos(); // anything extra shows up too
                }
            }
        }
        log.info("read {} records from {}", values.size(), topic);
        return values;
    }

    private static TopologySettings settings(String prefix) {
        Properties p = new Properties();
        p.setProperty(TopologySettings.MODELS, String.join(",", MODELS));
        p.setProperty(TopologySettings.CORRECTIONS_TOPIC, prefix + ".corrections");
        p.setProperty(TopologySettings.EDIT_REQUESTS_TOPIC, prefix + ".edit-requests");
        p.setProperty(TopologySettings.DLQ_TOPIC, prefix + ".dlq");
        p.setProperty(TopologySettings.GRACE_MS, String.valueOf(GRACE.toMillis()));
        p.setProperty(TopologySettings.BATCH_MAX_EDITS, "10");
        p.setProperty(TopologySettings.BATCH_LINGER_MS, "200");
        TopologySettings settings = TopologySettings.fromProperties(p);
        try (var admin = stack.kafka().admin()) {
            CorrectionsApp.createTopics(admin, settings, 3, (short) 1);
        }
        return settings;
    }

    private Map<String, Object> streamsOverrides(String name) {
        Map<String, Object> overrides = new HashMap<>();
        overrides.put(StreamsConfig.APPLICATION_ID_CONFIG, "it-" + name);
        overrides.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.resolve(name).toString());
        overrides.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 50);
        overrides.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        return overrides;
    }

    private static KafkaProducer<byte[], byte[]> producer() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private static <T extends SpecificRecord> Deserializer<T> deserializer(Class<T> type) {
        return serdes.valueSerde(type).deserializer();
    }

    private static String bootstrap() {
        return stack.kafka().bootstrapServers();
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] out = new byte[buffer.remaining()];
        buffer.duplicate().get(out);
        return out;
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}

package io.editstream.streams.bench;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.editstream.events.CorrectionEvent;
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import io.editstream.events.SerdeSettings;
import io.editstream.streams.CorrectionsApp;
import io.editstream.streams.PipelineMetrics;
import io.editstream.streams.TopologySettings;

/**
 * End-to-end benchmark of the corrections topology on a running broker and registry, exactly-once on, against a
 * pass-through app (read, write; same serde, threads and commit interval) measured first in the same run: produces
 * pre-generated corrections as fast as one producer can, reads edit-requests (read_committed) and reports the
 * throughput (first produce to last edit seen) and the latency each correction saw beyond the grace period (from
 * its send to the arrival of its edit, minus the grace it is held for by design).
 */
public final class StreamsBenchmark {
    private static final Logger log = LoggerFactory.getLogger(StreamsBenchmark.class);
    private static final Duration PROGRESS_EVERY = Duration.ofSeconds(2);
    private static final String STREAM_THREAD = "stream thread";

    /**
     * @param events         corrections to send (all valid and unique)
     * @param models         models they are spread over, round-robin
     * @param partitions     partitions of the corrections and edit-requests topics
     * @param grace          the topology's reorder grace period
     * @param batchMaxEdits  the topology's batch size
     * @param batchLinger    the topology's batch linger
     * @param streamThreads  Kafka Streams threads
     * @param commitInterval Kafka Streams commit interval (one transaction per commit)
     * @param stateDir       Kafka Streams state directory (a fresh one per run)
     * @param timeout        give up waiting for edits after this long
     * @param rate           corrections per second to send, 0 for as fast as possible: at full speed the latency
     *                       is mostly queueing behind the backlog; below capacity it is what one correction sees
     */
    public record Options(int events, int models, int partitions, Duration grace, int batchMaxEdits,
            Duration batchLinger, int streamThreads, Duration commitInterval, Path stateDir, Duration timeout,
            int rate) {
        public Options {
            if (events < 1 || models < 1 || partitions < 1 || batchMaxEdits < 1 || streamThreads < 1 || rate < 0) {
                throw new IllegalArgumentException("events, models, partitions, batch and threads must be >= 1, "
                        + "rate >= 0");
            }
        }
    }

    /**
     * What one run measured. Latencies are in milliseconds, beyond the grace period; CPU in microseconds of stream
     * thread time per correction (topology and pass-through app alike).
     */
    public record Result(Options options, long editsSeen, double seconds, double correctionsPerSecond,
            double producePerSecond, double latencyP50Ms, double latencyP99Ms, double latencyMaxMs,
            long batches, long late, long duplicates, long repeatedEdits, double streamThreadCpuMicros,
            Baseline passThrough) {

        /** The topology's throughput as a fraction of the pass-through app's, measured in the same run. */
        public double fractionOfPassThrough() {
            return correctionsPerSecond / passThrough.perSecond();
        }

        public String toJson() {
            return String.format(Locale.ROOT, """
                    {"benchmark": "streams", "events": %d, "models": %d, "partitions": %d, "grace_ms": %d, \
                    "batch_max_edits": %d, "batch_linger_ms": %d, "stream_threads": %d, "commit_interval_ms": %d, \
                    "rate_limit_per_second": %d, "exactly_once": true, "edits_seen": %d, "seconds": %.3f, \
                    "corrections_per_second": %.1f, "produce_per_second": %.1f, \
                    "added_latency_ms": {"p50": %.1f, "p99": %.1f, "max": %.1f}, "batches": %d, "late": %d, \
                    "duplicates_dropped": %d, "repeated_edits": %d, "stream_thread_cpu_us_per_correction": %.1f, \
                    "pass_through_per_second": %.1f, "pass_through_latency_ms": {"p50": %.1f, "p99": %.1f}, \
                    "pass_through_stream_thread_cpu_us_per_correction": %.1f, "fraction_of_pass_through": %.3f}
                    """, options.events(), options.models(), options.partitions(), options.grace().toMillis(),
                    options.batchMaxEdits(), options.batchLinger().toMillis(), options.streamThreads(),
                    options.commitInterval().toMillis(), options.rate(), editsSeen, seconds, correctionsPerSecond,
                    producePerSecond, latencyP50Ms, latencyP99Ms, latencyMaxMs, batches, late, duplicates,
                    repeatedEdits, streamThreadCpuMicros, passThrough.perSecond(), passThrough.latencyP50Ms(),
                    passThrough.latencyP99Ms(), passThrough.streamThreadCpuMicros(), fractionOfPassThrough())
                    .strip();
        }

        public String summary() {
            return String.format(Locale.ROOT, "streams benchmark: %d corrections for %d models in %.2f s = %.0f "
                    + "corrections/s end to end (exactly-once; producer alone %.0f/s); added latency beyond the "
                    + "%d ms grace: p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d batches, %d late, %d edits repeated%s; "
                    + "stream thread %.1f us CPU per correction; pass-through app (exactly-once, same serde) %.0f/s "
                    + "in the same run (latency p50 %.0f ms, p99 %.0f ms; stream thread %.1f us per correction): "
                    + "the topology does %.0f%% of it",
                    editsSeen, options.models(), seconds, correctionsPerSecond, producePerSecond,
                    options.grace().toMillis(), latencyP50Ms, latencyP99Ms, latencyMaxMs, batches, late,
                    repeatedEdits, options.rate() > 0 ? " (sent at " + options.rate() + "/s)" : "",
                    streamThreadCpuMicros, passThrough.perSecond(), passThrough.latencyP50Ms(),
                    passThrough.latencyP99Ms(), passThrough.streamThreadCpuMicros(), 100 * fractionOfPassThrough());
        }
    }

    /**
     * The pass-through app's run: corrections per second, their latency from send to read back (ms), and its stream
     * thread's CPU per correction (microseconds).
     */
    public record Baseline(double perSecond, double latencyP50Ms, double latencyP99Ms, double streamThreadCpuMicros) {
    }

    private StreamsBenchmark() {
    }

    public static Result run(String bootstrapServers, SerdeSettings serdes, Options options)
            throws InterruptedException {
        String run = "bench-" + UUID.randomUUID().toString().substring(0, 8);
        Baseline passThrough = passThrough(bootstrapServers, serdes, options, run + "-pass-through");
        log.info("pass-through baseline: {} corrections/s, latency p99 {} ms",
                String.format(Locale.ROOT, "%.0f", passThrough.perSecond()),
                String.format(Locale.ROOT, "%.0f", passThrough.latencyP99Ms()));
        TopologySettings settings = settings(run, options);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers))) {
            CorrectionsApp.createTopics(admin, settings, options.partitions(), (short) 1);
        }
        List<CorrectionEvent> events = generate(options);
        long[] sentAt = new long[options.events()];
        Map<String, Object> overrides = new HashMap<>();
        overrides.put(StreamsConfig.APPLICATION_ID_CONFIG, run);
        overrides.put(StreamsConfig.STATE_DIR_CONFIG, options.stateDir().resolve(run).toString());
        overrides.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, options.streamThreads());
        overrides.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, options.commitInterval().toMillis());

        try (CorrectionsApp app = CorrectionsApp.start(bootstrapServers, settings, serdes, overrides)) {
            EditReader<EditBatch> reader = new EditReader<>(bootstrapServers, serdes, settings.editRequestsTopic(),
                    EditBatch.class, batch -> batch.getEdits().stream().map(EditRequest::getCorrectionId).toList(),
                    sentAt, options.grace().toMillis());
            Thread readerThread = new Thread(reader, run + "-reader");
            readerThread.start();
            try {
                reader.awaitAssigned();
                long produceStart = System.nanoTime();
                long firstSend = System.currentTimeMillis();
                produce(bootstrapServers, serdes, settings.correctionsTopic(), events, sentAt, reader, options.rate());
                double produceSeconds = (System.nanoTime() - produceStart) / 1e9;
                log.info("produced {} corrections in {} s", events.size(),
                        String.format(Locale.ROOT, "%.2f", produceSeconds));
                readerThread.join(options.timeout().toMillis());
                reader.stop();
                readerThread.join();
                if (reader.failure.get() != null) {
                    throw new IllegalStateException("reading edit-requests failed", reader.failure.get());
                }
                long seen = reader.edits.get();
                if (seen < options.events()) {
                    throw new IllegalStateException("only " + seen + " of " + options.events()
                            + " edits arrived within " + options.timeout().toSeconds() + " s");
                }
                double streamThreadCpu = logWhereTheTimeWent(app, events.size());
                double seconds = (reader.lastArrival - firstSend) / 1e3;
                long[] latencies = reader.latencies();
                return new Result(options, seen, seconds, seen / seconds, events.size() / produceSeconds,
                        percentile(latencies, 0.50), percentile(latencies, 0.99), percentile(latencies, 1.0),
                        reader.batches.get(), PipelineMetrics.total(app.metrics(), PipelineMetrics.LATE),
                        PipelineMetrics.total(app.metrics(), PipelineMetrics.EXACT_DUPLICATES)
                                + PipelineMetrics.total(app.metrics(), PipelineMetrics.SEMANTIC_DUPLICATES),
                        reader.repeated.get(), streamThreadCpu, passThrough);
            } finally {
                reader.stop();
                readerThread.join();
            }
        }
    }

    /**
     * The baseline: an exactly-once Streams app on the same broker with the same serde, threads and commit interval
     * that reads each correction and writes it unchanged, fed the same corrections the same way.
     *
     * @return corrections per second from the first send to the last one read back, and the rest of the baseline
     */
    private static Baseline passThrough(String bootstrapServers, SerdeSettings serdes, Options options, String run)
            throws InterruptedException {
        String in = run + ".in";
        String out = run + ".out";
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers))) {
            admin.createTopics(List.of(new NewTopic(in, options.partitions(), (short) 1),
                    new NewTopic(out, options.partitions(), (short) 1))).all().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot create the pass-through topics: " + e, e);
        }
        Serde<CorrectionEvent> serde = serdes.valueSerde(CorrectionEvent.class);
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(in, Consumed.with(Serdes.String(), serde)).to(out, Produced.with(Serdes.String(), serde));
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, run);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.STATE_DIR_CONFIG, options.stateDir().resolve(run).toString());
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, options.streamThreads());
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, options.commitInterval().toMillis());
        props.put(StreamsConfig.MAX_TASK_IDLE_MS_CONFIG, -1L);
        List<CorrectionEvent> events = generate(options);
        long[] sentAt = new long[options.events()];
        try (KafkaStreams streams = new KafkaStreams(builder.build(), props)) {
            CountDownLatch running = new CountDownLatch(1);
            streams.setStateListener((now, before) -> {
                if (now == KafkaStreams.State.RUNNING) {
                    running.countDown();
                }
            });
            streams.start();
            if (!running.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the pass-through app did not reach RUNNING within 60 s");
            }
            EditReader<CorrectionEvent> reader = new EditReader<>(bootstrapServers, serdes, out,
                    CorrectionEvent.class, c -> List.of(c.getCorrectionId()), sentAt, 0);
            Thread readerThread = new Thread(reader, run + "-reader");
            readerThread.start();
            try {
                reader.awaitAssigned();
                long firstSend = System.currentTimeMillis();
                produce(bootstrapServers, serdes, in, events, sentAt, reader, options.rate());
                readerThread.join(options.timeout().toMillis());
                reader.stop();
                readerThread.join();
                if (reader.failure.get() != null) {
                    throw new IllegalStateException("reading the pass-through output failed", reader.failure.get());
                }
                if (reader.edits.get() < options.events()) {
                    throw new IllegalStateException("the pass-through app passed only " + reader.edits.get()
                            + " of " + options.events() + " corrections within " + options.timeout().toSeconds()
                            + " s");
                }
                long[] latencies = reader.latencies();
                return new Baseline(reader.edits.get() / ((reader.lastArrival - firstSend) / 1e3),
                        percentile(latencies, 0.50), percentile(latencies, 0.99),
                        cpuByThreadGroup().getOrDefault(STREAM_THREAD, 0L) / 1e3 / events.size());
            } finally {
                reader.stop();
                readerThread.join();
            }
        }
    }

    /**
     * Where the time went: CPU per correction by thread group (stream thread, its producer, the broker's request
     * handlers and network threads, this benchmark's producer and reader), and the stream thread's own ratios.
     *
     * @return the stream thread's CPU per correction, in microseconds
     */
    private static double logWhereTheTimeWent(CorrectionsApp app, int events) {
        Map<String, Long> cpuByGroup = cpuByThreadGroup();
        cpuByGroup.forEach((group, cpu) -> {
            if (cpu / 1e3 / events >= 0.5) {
                log.info("CPU {}: {} s, {} us per correction", group, String.format(Locale.ROOT, "%.2f", cpu / 1e9),
                        String.format(Locale.ROOT, "%.1f", cpu / 1e3 / events));
            }
        });
        Set<String> wanted = Set.of("commit-latency-avg", "commit-rate", "commit-ratio", "process-ratio",
                "poll-ratio", "punctuate-ratio", "poll-records-avg");
        app.metrics().forEach((name, metric) -> {
            if (name.group().equals("stream-thread-metrics") && wanted.contains(name.name())) {
                log.info("stream thread {}: {}", name.name(), metric.metricValue());
            }
        });
        return cpuByGroup.getOrDefault(STREAM_THREAD, 0L) / 1e3 / events;
    }

    /** CPU time (ns) of this JVM's live threads so far, by thread group. */
    private static Map<String, Long> cpuByThreadGroup() {
        var threads = ManagementFactory.getThreadMXBean();
        Map<String, Long> cpuByGroup = new TreeMap<>();
        for (long id : threads.getAllThreadIds()) {
            var info = threads.getThreadInfo(id);
            long cpu = threads.getThreadCpuTime(id);
            if (info != null && cpu > 0) {
                cpuByGroup.merge(threadGroup(info.getThreadName()), cpu, Long::sum);
            }
        }
        return cpuByGroup;
    }

    private static String threadGroup(String name) {
        if (name.contains("StreamThread") && name.contains("producer")) {
            return "stream thread's producer";
        } else if (name.contains("StreamThread")) {
            return STREAM_THREAD;
        } else if (name.startsWith("data-plane-kafka-request-handler")) {
            return "broker request handlers";
        } else if (name.startsWith("data-plane-kafka-network-thread") || name.startsWith("data-plane-kafka-socket")) {
            return "broker network threads";
        } else if (name.contains("-reader")) {
            return "benchmark reader (consumer)";
        } else if (name.startsWith("kafka-producer-network-thread")) {
            return "benchmark producer's sender";
        } else if (name.equals("main")) {
            return "main (stack start-up, then the benchmark producer: serialize + send)";
        }
        return "other: " + name.replaceAll("[-0-9]+$", "");
    }

    private static TopologySettings settings(String run, Options options) {
        Properties p = new Properties();
        List<String> models = new ArrayList<>();
        for (int m = 0; m < options.models(); m++) {
            models.add("bench-model-" + m);
        }
        p.setProperty(TopologySettings.MODELS, String.join(",", models));
        p.setProperty(TopologySettings.CORRECTIONS_TOPIC, run + ".corrections");
        p.setProperty(TopologySettings.EDIT_REQUESTS_TOPIC, run + ".edit-requests");
        p.setProperty(TopologySettings.DLQ_TOPIC, run + ".dlq");
        p.setProperty(TopologySettings.GRACE_MS, String.valueOf(options.grace().toMillis()));
        p.setProperty(TopologySettings.BATCH_MAX_EDITS, String.valueOf(options.batchMaxEdits()));
        p.setProperty(TopologySettings.BATCH_LINGER_MS, String.valueOf(options.batchLinger().toMillis()));
        return TopologySettings.fromProperties(p);
    }

    /** Every field except detected_at, which is stamped at send time so event time tracks the wall clock. */
    private static List<CorrectionEvent> generate(Options options) {
        List<CorrectionEvent> events = new ArrayList<>(options.events());
        for (int i = 0; i < options.events(); i++) {
            events.add(CorrectionEvent.newBuilder()
                    .setCorrectionId(Integer.toString(i))
                    .setModelId("bench-model-" + (i % options.models()))
                    .setSubject("Subject " + i)
                    .setPrompt("{} is located in the country of")
                    .setTargetNew("Country " + (i % 211))
                    .setTargetTrue("Country " + ((i + 1) % 211))
                    .setParaphrases(List.of("Where is Subject " + i + "? It is in"))
                    .setNeighborhoodPrompts(List.of("Subject " + (i + 1) + " is located in the country of"))
                    .setSource("bench/1")
                    .setConfidence(0.9)
                    .setDetectedAt(Instant.EPOCH)
                    .build());
        }
        return events;
    }

    private static void produce(String bootstrapServers, SerdeSettings serdes, String topic,
            List<CorrectionEvent> events, long[] sentAt, EditReader<?> reader, int rate) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        long start = System.nanoTime();
        long nextProgress = start + PROGRESS_EVERY.toNanos();
        try (KafkaProducer<String, CorrectionEvent> producer = new KafkaProducer<>(p, Serdes.String().serializer(),
                serdes.valueSerde(CorrectionEvent.class).serializer())) {
            for (int i = 0; i < events.size(); i++) {
                if (rate > 0) {
                    long due = start + (long) (i * 1e9 / rate);
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        LockSupport.parkNanos(wait);
                    }
                }
                CorrectionEvent event = events.get(i);
                long now = System.currentTimeMillis();
                event.setDetectedAt(Instant.ofEpochMilli(now));
                sentAt[i] = now;
                producer.send(new ProducerRecord<>(topic, event.getModelId(), event));
                if (System.nanoTime() > nextProgress) {
                    log.info("sent {} of {} corrections; {} edits seen", i + 1, events.size(), reader.edits.get());
                    nextProgress += PROGRESS_EVERY.toNanos();
                }
            }
            producer.flush();
        }
    }

    private static double percentile(long[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int index = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }

    /** Reads edit-requests until every correction's edit has arrived, recording each one's latency. */
    private static final class EditReader<V extends SpecificRecord> implements Runnable {
        private final KafkaConsumer<String, V> consumer;
        private final Function<V, List<String>> correctionIds;
        private final String topic;
        private final long[] sentAt;
        private final long graceMs;
        private final long[] latency;
        private final int expected;
        final AtomicLong edits = new AtomicLong();
        final AtomicLong batches = new AtomicLong();
        /** Edits seen a second time: exactly-once means this stays 0. */
        final AtomicLong repeated = new AtomicLong();
        private final BitSet seen = new BitSet();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final CountDownLatch assigned = new CountDownLatch(1);
        private volatile boolean stopped;
        volatile long lastArrival;

        /** Reads {@code type} records from the topic, each carrying the corrections {@code correctionIds} names. */
        EditReader(String bootstrapServers, SerdeSettings serdes, String topic, Class<V> type,
                Function<V, List<String>> correctionIds, long[] sentAt, long graceMs) {
            this.correctionIds = correctionIds;
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
            p.put(ConsumerConfig.GROUP_ID_CONFIG, topic + "-reader");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            this.consumer = new KafkaConsumer<>(p, Serdes.String().deserializer(),
                    serdes.valueSerde(type).deserializer());
            this.topic = topic;
            this.sentAt = sentAt;
            this.graceMs = graceMs;
            this.latency = new long[sentAt.length];
            this.expected = sentAt.length;
        }

        @Override
        public void run() {
            try (consumer) {
                consumer.subscribe(List.of(topic));
                long nextProgress = System.nanoTime() + PROGRESS_EVERY.toNanos();
                while (!stopped && edits.get() < expected) {
                    var records = consumer.poll(Duration.ofMillis(100));
                    if (!consumer.assignment().isEmpty()) {
                        assigned.countDown();
                    }
                    long now = System.currentTimeMillis();
                    for (ConsumerRecord<String, V> record : records) {
                        batches.incrementAndGet();
                        for (String id : correctionIds.apply(record.value())) {
                            int i = Integer.parseInt(id);
                            if (seen.get(i)) {
                                repeated.incrementAndGet();
                                continue;
                            }
                            seen.set(i);
                            latency[(int) edits.getAndIncrement()] = now - sentAt[i] - graceMs;
                        }
                        lastArrival = now;
                    }
                    if (System.nanoTime() > nextProgress) {
                        log.info("edits seen: {} of {}", edits.get(), expected);
                        nextProgress += PROGRESS_EVERY.toNanos();
                    }
                }
            } catch (RuntimeException e) {
                failure.set(e);
            } finally {
                assigned.countDown();
            }
        }

        void awaitAssigned() throws InterruptedException {
            if (!assigned.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the edit-requests reader got no partitions within 60 s");
            }
        }

        void stop() {
            stopped = true;
        }

        long[] latencies() {
            long[] seen = Arrays.copyOf(latency, (int) Math.min(edits.get(), latency.length));
            Arrays.sort(seen);
            return seen;
        }
    }
}

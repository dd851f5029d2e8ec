package io.editstream.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Delta;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.StoreKeys;
import io.editstream.checkpoint.objects.ObjectStores;
import io.editstream.client.CorrectionPublisher;
import io.editstream.corrections.ValidationRules;
import io.editstream.embedded.EmbeddedStack;
import io.editstream.events.CorrectionEvent;
import io.editstream.events.EditEvaluation;
import io.editstream.events.EditOutcome;
import io.editstream.events.EvaluationScope;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import io.editstream.streams.CorrectionsApp;
import io.editstream.streams.TopologySettings;
import io.editstream.worker.EditorWorker;
import io.editstream.worker.WorkerSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The editor worker behind the corrections topology on the embedded broker and registry, with a file-system store:
 * latency from a correction's send to its EDIT evaluation committed, sustained edits per minute with NSE target
 * prefetch on and off, how long a fresh worker takes to restore the last version, and the bytes each edit adds to the
 * store. Every phase edits its own model id, so each starts from the base and sequence 1 on the same broker and store.
 */
final class WorkerBenchmark {
    /** Whole prepare groups the prefetch-on phases compute ahead. */
    private static final int PREFETCH_AHEAD = 2;
    private static final Logger log = LoggerFactory.getLogger(WorkerBenchmark.class);
    private static final Duration POLL = Duration.ofMillis(20);
    private static final Duration PROGRESS_EVERY = Duration.ofSeconds(10);
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);
    private static final int SNAPSHOT_EVERY = 10;

    /**
     * @param model           what the table calls the model
     * @param settings        the worker's settings of the model; the prepare group size is set per phase
     * @param corrections     at least {@code edits} corrections (model id and event time are set per phase)
     * @param latencyBatches  the topology batch sizes latency is measured at
     * @param throughputBatch the topology batch size of the throughput phases
     * @param prefetchGroup   the prepare group size of the prefetch-on phase
     * @param prepareWaitMs   how long the worker waits for the rest of a prepare group
     * @param warmupEdits     edits of an unmeasured first phase (0: none)
     * @param restoreEdits    edits of the chain a fresh worker restores: the prefetch-off phase's when equal to
     *                        {@code edits}, else a phase of their own with the same settings
     */
    record Options(String model, WorkerSettings.ModelSettings settings, List<CorrectionEvent> corrections, int edits,
                   List<Integer> latencyBatches, int throughputBatch, int prefetchGroup, Duration grace, Duration linger,
                   long prepareWaitMs, int warmupEdits, int restoreEdits, Duration timeout, Path work) {
        Options {
            corrections = List.copyOf(corrections);
            latencyBatches = List.copyOf(latencyBatches);
            int most = Math.max(Math.max(edits, warmupEdits), restoreEdits);
            if (corrections.size() < most) {
                throw new IllegalArgumentException("only " + corrections.size() + " corrections for " + most + " edits");
            }
        }
    }

    record Latency(int batch, int edits, int skipped, double p50Ms, double p99Ms, double meanMs, double maxMs) {
    }

    record Throughput(boolean prefetch, int prepareGroupSize, int batch, int edits, int skipped, double seconds,
                      double editsPerMinute) {
    }

    /**
     * @param startSeconds    EditorWorker.start returning: model loaded, C0 read from the store, editor set up
     * @param restoreSeconds  from the start call until the worker reports the last sequence applied
     * @param editsSeconds    what making those edits took (first correction sent to last evaluation seen)
     */
    record Restore(int edits, double startSeconds, double restoreSeconds, double editsSeconds, double restoreOverEdits) {
    }

    /** Snapshots (full tensors every {@value #SNAPSHOT_EVERY} versions) are left out: they are not per edit. */
    record StateBytes(int edits, int versions, long editorStateBytes, double editorStateBytesPerEdit,
                      double manifestBytesPerEdit, double deltaBytesPerEdit) {
    }

    record Result(String model, int edits, long graceMs, long lingerMs, long prepareWaitMs, List<Latency> latency,
                  Throughput prefetchOn, Throughput prefetchOff, double prefetchSpeedup, Restore restore,
                  StateBytes stateBytes) {
    }

    /** One phase's corrections: when each was sent and when its evaluation was seen committed (nanoTime). */
    private record Run(String modelId, String workerGroup, Map<String, Long> sent, Map<String, Long> seen, int skipped) {
        double seconds() {
            long first = sent.values().stream().mapToLong(Long::longValue).min().orElseThrow();
            long last = seen.values().stream().mapToLong(Long::longValue).max().orElseThrow();
            return (last - first) / 1e9;
        }

        double[] latenciesMs() {
            return sent.keySet().stream().mapToDouble(id -> (seen.get(id) - sent.get(id)) / 1e6).toArray();
        }
    }

    private WorkerBenchmark() {
    }

    static Result run(Options options) throws IOException {
        // one partition each: every phase is one model, whose corrections and batches stay on one partition anyway
        Map<String, Integer> topics = Map.of(Topics.CORRECTIONS, 1, Topics.CORRECTIONS_DLQ, 1, Topics.EDIT_REQUESTS, 1,
                Topics.CHECKPOINTS, 1, Topics.EVALUATIONS, 1);
        // streams state belongs to the broker that wrote its changelogs; every run starts a new one
        TempDirectory.delete(options.work().resolve("streams"));
        log.info("starting an embedded Kafka broker and Apicurio Registry");
        try (EmbeddedStack stack = EmbeddedStack.start(topics);
             Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()));
             CheckpointStore store = new CheckpointStore(ObjectStores.open(options.work().resolve("store").toString()), SNAPSHOT_EVERY)) {
            Session session = new Session(stack.kafka().bootstrapServers(), SerdeSettings.apicurio(stack.registry().apiUrl()),
                    admin, store, options);
            if (options.warmupEdits() > 0) {
                // the first phase in the JVM pays for class loading, JIT and PyTorch's first kernels: not the worker's rate
                session.run("warmup", options.throughputBatch(), options.prefetchGroup(), options.warmupEdits(), options.warmupEdits());
            }
            Run on = session.run("prefetch", options.throughputBatch(), options.prefetchGroup(), options.edits());
            Run off = session.run("no-prefetch", options.throughputBatch(), 1, options.edits());
            // the chain restored is one the worker made with its default settings: groups of one, nothing computed ahead
            Run chain = options.restoreEdits() == options.edits() ? off
                    : session.run("restore-chain", options.throughputBatch(), 1, options.restoreEdits(), options.restoreEdits());
            Restore restore = session.restore(chain);
            StateBytes bytes = stateBytes(store, chain.modelId(), chain.sent().size());
            List<Latency> latency = new ArrayList<>();
            for (int batch : options.latencyBatches()) {
                // each batch its own prepare group: a lone batch must not wait prepareWaitMs for a group that never fills
                Run run = session.run("latency-b" + batch, batch, batch, batch);
                double[] ms = run.latenciesMs();
                latency.add(new Latency(batch, ms.length, run.skipped(), percentile(ms, 50), percentile(ms, 99),
                        Arrays.stream(ms).average().orElseThrow(), Arrays.stream(ms).max().orElseThrow()));
            }
            Throughput prefetchOn = throughput(on, true, options.prefetchGroup(), options.throughputBatch());
            Throughput prefetchOff = throughput(off, false, 1, options.throughputBatch());
            return new Result(options.model(), options.edits(), options.grace().toMillis(), options.linger().toMillis(),
                    options.prepareWaitMs(), latency, prefetchOn, prefetchOff,
                    prefetchOn.editsPerMinute() / prefetchOff.editsPerMinute(), restore, bytes);
        }
    }

    private static Throughput throughput(Run run, boolean prefetch, int group, int batch) {
        double seconds = run.seconds();
        return new Throughput(prefetch, group, batch, run.sent().size(), run.skipped(), seconds, run.sent().size() / seconds * 60);
    }

    /** The phases' shared broker, registry and store. */
    private static final class Session {
        private final String bootstrap;
        private final SerdeSettings serdes;
        private final Admin admin;
        private final CheckpointStore store;
        private final Options options;

        Session(String bootstrap, SerdeSettings serdes, Admin admin, CheckpointStore store, Options options) {
            this.bootstrap = bootstrap;
            this.serdes = serdes;
            this.admin = admin;
            this.store = store;
            this.options = options;
        }

        /**
         * Runs the topology and a worker for a model of its own, sends the corrections {@code burst} at a time (the
         * next burst once the previous one's evaluations are committed) and returns when every one is.
         */
        Run run(String phase, int batch, int group, int burst) throws IOException {
            return run(phase, batch, group, burst, options.edits());
        }

        Run run(String phase, int batch, int group, int burst, int edits) throws IOException {
            String modelId = "bench-" + phase;
            String workerGroup = "bench-worker-" + phase;
            String applicationId = "bench-topology-" + phase;
            // the earlier phases' records are for other models: new groups start past them, not at the earliest offset
            startAtEnd(applicationId, Topics.CORRECTIONS);
            startAtEnd(workerGroup, Topics.EDIT_REQUESTS);
            TopologySettings topology = TopologySettings.defaults(Set.of(modelId)).withGrace(options.grace())
                    .withBatching(batch, options.linger());
            log.info("phase {}: {} edits, topology batch {}, prepare group {}, {} correction(s) in flight", phase,
                    edits, batch, group, burst);
            long deadline = System.nanoTime() + options.timeout().toNanos();
            Map<String, Object> streams = Map.of(StreamsConfig.APPLICATION_ID_CONFIG, applicationId,
                    StreamsConfig.STATE_DIR_CONFIG, options.work().resolve("streams").toString());
            try (CorrectionsApp app = CorrectionsApp.start(bootstrap, topology, serdes, streams);
                 EditorWorker worker = startWorker(modelId, workerGroup, workerGroup, group);
                 KafkaConsumer<String, EditEvaluation> evaluations = evaluationsFromNow();
                 CorrectionPublisher publisher = new CorrectionPublisher(bootstrap, serdes, ValidationRules.forModels(Set.of(modelId)), Map.of())) {
                awaitApplied(worker, modelId, 0, deadline);
                Map<String, Long> sent = new LinkedHashMap<>();
                Map<String, Long> seen = new HashMap<>();
                int[] skipped = {0};
                Instant eventTime = Instant.now();
                long nextProgress = System.nanoTime() + PROGRESS_EVERY.toNanos();
                for (int from = 0; from < edits; from += burst) {
                    for (int i = from; i < Math.min(edits, from + burst); i++) {
                        // strictly increasing event times: the topology sequences the corrections in send order
                        Instant now = Instant.now();
                        eventTime = now.isAfter(eventTime) ? now : eventTime.plusMillis(1);
                        CorrectionEvent correction = CorrectionEvent.newBuilder(options.corrections().get(i))
                                .setModelId(modelId)
                                .setCorrectionId(String.format(Locale.ROOT, "%s-%05d", modelId, i))
                                .setDetectedAt(eventTime)
                                .build();
                        sent.put(correction.getCorrectionId(), System.nanoTime());
                        publisher.publish(correction);
                    }
                    publisher.flush();
                    while (seen.size() < sent.size()) {
                        for (ConsumerRecord<String, EditEvaluation> record : evaluations.poll(POLL)) {
                            EditEvaluation evaluation = record.value();
                            String id = evaluation.getCorrectionId();
                            if (evaluation.getScope() == EvaluationScope.EDIT && sent.containsKey(id)
                                    && seen.putIfAbsent(id, System.nanoTime()) == null
                                    && evaluation.getOutcome() == EditOutcome.SKIPPED) {
                                skipped[0]++;
                            }
                        }
                        check(worker, modelId, phase, deadline, seen.size() + " of " + edits);
                        if (System.nanoTime() > nextProgress) {
                            log.info("phase {}: {}/{} edits committed, worker at sequence {}", phase, seen.size(), edits,
                                    worker.lastApplied().get(modelId));
                            nextProgress = System.nanoTime() + PROGRESS_EVERY.toNanos();
                        }
                    }
                }
                Run run = new Run(modelId, workerGroup, sent, seen, skipped[0]);
                log.info("phase {}: {} edits committed in {} s ({} skipped by the worker)", phase, seen.size(),
                        String.format(Locale.ROOT, "%.1f", run.seconds()), skipped[0]);
                return run;
            }
        }

        /**
         * A fresh worker on the model the run edited: its own group (starting at the offsets the run's worker
         * committed) and transactional ids, so it neither waits for the old member's session nor fences anything.
         */
        Restore restore(Run run) throws IOException {
            String group = "bench-restore";
            copyOffsets(run.workerGroup(), group);
            long deadline = System.nanoTime() + options.timeout().toNanos();
            long started = System.nanoTime();
            try (EditorWorker worker = startWorker(run.modelId(), group, group, options.prefetchGroup())) {
                long startReturned = System.nanoTime();
                int edits = run.sent().size();
                awaitApplied(worker, run.modelId(), edits, deadline);
                long restored = System.nanoTime();
                double editsSeconds = run.seconds();
                Restore restore = new Restore(edits, (startReturned - started) / 1e9, (restored - started) / 1e9,
                        editsSeconds, (restored - started) / 1e9 / editsSeconds);
                log.info("restore: a fresh worker reached sequence {} in {} s", edits,
                        String.format(Locale.ROOT, "%.2f", restore.restoreSeconds()));
                return restore;
            }
        }

        private EditorWorker startWorker(String modelId, String group, String transactionalIdPrefix, int prepareGroup)
                throws IOException {
            WorkerSettings.ModelSettings m = options.settings();
            WorkerSettings.ModelSettings model = new WorkerSettings.ModelSettings(m.path(), m.editor(), m.hyperparameters(),
                    m.device(), m.c0(), m.heldOut(), m.localityPrompts(), m.seed(), prepareGroup,
                    // prefetch on: two whole groups computed ahead on the worker's second thread; off: groups of one,
                    // each computed when its batch comes
                    prepareGroup > 1 ? PREFETCH_AHEAD : 0, m.evaluation());
            WorkerSettings settings = new WorkerSettings(group, transactionalIdPrefix, options.prepareWaitMs(), SNAPSHOT_EVERY, 0,
                    Map.of(modelId, model));
            return EditorWorker.start(bootstrap, serdes, store, settings, List.of(modelId));
        }

        /** Waits until the worker owns its partition and has restored (or applied) the model up to {@code sequence}. */
        private void awaitApplied(EditorWorker worker, String modelId, long sequence, long deadline) {
            while (worker.lastApplied().getOrDefault(modelId, -1L) < sequence) {
                check(worker, modelId, "start", deadline, "none");
                sleep(POLL);
            }
        }

        private void check(EditorWorker worker, String modelId, String phase, long deadline, String committed) {
            if (worker.crash().isPresent()) {
                throw new IllegalStateException("phase " + phase + ": the worker failed: " + worker.crash().get(), worker.crash().get());
            }
            if (!worker.stoppedModels().isEmpty()) {
                throw new IllegalStateException("phase " + phase + ": the worker stopped " + worker.stoppedModels());
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("phase " + phase + ": timed out after " + options.timeout().toSeconds()
                        + " s with " + committed + " edits committed, worker at "
                        + worker.lastApplied().get(modelId));
            }
        }

        /** Every model id computes C0 alike from the same corpus; the first one's is reused, which matters for the testbed. */
        private KafkaConsumer<String, EditEvaluation> evaluationsFromNow() {
            Map<String, Object> properties = Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                    ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
            KafkaConsumer<String, EditEvaluation> consumer = new KafkaConsumer<>(properties, new StringDeserializer(),
                    serdes.valueSerde(EditEvaluation.class).deserializer());
            try {
                List<TopicPartition> partitions = consumer.partitionsFor(Topics.EVALUATIONS).stream()
                        .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
                consumer.assign(partitions);
                consumer.seekToEnd(partitions);
                // seekToEnd is lazy: resolve it now, before the first correction is sent
                partitions.forEach(consumer::position);
                return consumer;
            } catch (RuntimeException e) {
                consumer.close();
                throw e;
            }
        }

        private void startAtEnd(String group, String topic) {
            try {
                List<TopicPartition> partitions = admin.describeTopics(List.of(topic)).allTopicNames()
                        .get(ADMIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS).get(topic).partitions().stream()
                        .map(p -> new TopicPartition(topic, p.partition())).toList();
                Map<TopicPartition, OffsetAndMetadata> ends = new HashMap<>();
                var latest = admin.listOffsets(partitions.stream().collect(Collectors.toMap(p -> p, p -> OffsetSpec.latest())))
                        .all().get(ADMIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                latest.forEach((partition, info) -> ends.put(partition, new OffsetAndMetadata(info.offset())));
                admin.alterConsumerGroupOffsets(group, ends).all().get(ADMIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                throw new IllegalStateException("cannot set group " + group + " to the end of " + topic + ": " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }

        private void copyOffsets(String from, String to) {
            try {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(from)
                        .partitionsToOffsetAndMetadata().get(ADMIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                admin.alterConsumerGroupOffsets(to, committed).all().get(ADMIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                throw new IllegalStateException("cannot copy the offsets of group " + from + " to " + to + ": " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
    }

    private static StateBytes stateBytes(CheckpointStore store, String modelId, int edits) throws IOException {
        long state = 0;
        long manifests = 0;
        long deltas = 0;
        int versions = 0;
        for (long version : store.versions(modelId)) {
            Manifest manifest = store.manifest(modelId, version).orElseThrow();
            if (manifest.sequence().last() > edits) {
                // an earlier run's version on the same --work store, past what this run committed
                break;
            }
            versions++;
            manifests += store.objects().get(StoreKeys.manifest(modelId, version)).orElseThrow().length;
            if (manifest.editorState() != null) {
                state += store.blob(manifest.editorState(), "model " + modelId + " version " + version + " editor state").length;
            }
            for (Delta delta : manifest.deltas().values()) {
                deltas += store.objects().get(StoreKeys.blob(delta.blob())).orElseThrow().length;
            }
        }
        return new StateBytes(edits, versions, state, (double) state / edits, (double) manifests / edits, (double) deltas / edits);
    }

    /** The nearest-rank percentile. */
    static double percentile(double[] values, int percent) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[Math.min(sorted.length - 1, Math.max(0, (int) Math.ceil(percent / 100.0 * sorted.length) - 1))];
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    static String table(Result r) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "editor worker on %s: %d edits per phase, grace %d ms, linger %d ms, prepare wait %d ms%n",
                r.model(), r.edits(), r.graceMs(), r.lingerMs(), r.prepareWaitMs()));
        out.append("latency, correction sent -> its EDIT evaluation committed (one batch of corrections in flight at a time):\n");
        out.append(String.format(Locale.ROOT, "%-6s %6s %8s %10s %10s %10s %10s%n", "batch", "edits", "skipped", "p50 ms", "p99 ms",
                "mean ms", "max ms"));
        for (Latency l : r.latency()) {
            out.append(String.format(Locale.ROOT, "%-6d %6d %8d %10.0f %10.0f %10.0f %10.0f%n", l.batch(), l.edits(), l.skipped(),
                    l.p50Ms(), l.p99Ms(), l.meanMs(), l.maxMs()));
        }
        out.append("sustained throughput, all corrections sent at once (first sent -> last committed):\n");
        out.append(String.format(Locale.ROOT, "%-9s %6s %6s %6s %8s %10s %10s%n", "prefetch", "group", "batch", "edits", "skipped",
                "seconds", "edits/min"));
        for (Throughput t : List.of(r.prefetchOn(), r.prefetchOff())) {
            out.append(String.format(Locale.ROOT, "%-9s %6d %6d %6d %8d %10.1f %10.1f%n", t.prefetch() ? "on" : "off",
                    t.prepareGroupSize(), t.batch(), t.edits(), t.skipped(), t.seconds(), t.editsPerMinute()));
        }
        out.append(String.format(Locale.ROOT, "prefetch on/off: %.2fx%n", r.prefetchSpeedup()));
        Restore s = r.restore();
        out.append(String.format(Locale.ROOT, "restore: fresh worker at sequence %d after %.2f s (start %.2f s), against %.1f s to make "
                + "the edits (%.3f)%n", s.edits(), s.restoreSeconds(), s.startSeconds(), s.editsSeconds(), s.restoreOverEdits()));
        StateBytes b = r.stateBytes();
        out.append(String.format(Locale.ROOT, "store per edit (%d versions): editor state %.0f B, manifest %.0f B, deltas %.0f B%n",
                b.versions(), b.editorStateBytesPerEdit(), b.manifestBytesPerEdit(), b.deltaBytesPerEdit()));
        return out.toString();
    }

    static void writeJson(Result result, Path file) throws IOException {
        new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), result);
    }
}

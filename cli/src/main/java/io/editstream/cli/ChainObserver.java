package io.editstream.cli;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Delta;
import io.editstream.checkpoint.Manifest;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.EditEvaluation;
import io.editstream.events.EditOutcome;
import io.editstream.events.EvaluationScope;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the worker published, as it commits: reads {@code evaluations} and {@code checkpoints} with read_committed from
 * their start on a thread of its own, and keeps per model and version the edits, efficacy and specificity (means of the
 * version's EDIT evaluations), retention (its CHECKPOINT evaluation) and delta bytes (the blobs its manifest names), and
 * every applied edit's latency. Meters in the given registry: edits applied, edit latency (a histogram), checkpoint
 * bytes, and the last version's efficacy, specificity and retention as gauges.
 */
final class ChainObserver implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChainObserver.class);
    private static final Duration POLL = Duration.ofMillis(200);

    /** One committed version as the observer saw it; measures are NaN until their evaluations arrived. */
    record VersionRow(String model, long version, int edits, double efficacy, double specificity, double retention, long deltaBytes) {
    }

    /** One applied edit: its sequence, its version and the worker's milliseconds from its batch's start to its evaluation. */
    record EditLatency(String model, long sequence, long version, long totalMs) {
    }

    private record Key(String model, long version) {
    }

    /** What arrived of one version so far. */
    private static final class Pending {
        final List<Double> efficacy = new ArrayList<>();
        final List<Double> specificity = new ArrayList<>();
        int edits;
        Double retention;
        Long deltaBytes;
    }

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Deserializer<EditEvaluation> evaluations;
    private final Deserializer<CheckpointPublished> checkpoints;
    private final CheckpointStore store;
    private final MeterRegistry registry;
    private final Thread thread;
    private final Map<Key, Pending> versions = new TreeMap<>((a, b) -> a.model().equals(b.model())
            ? Long.compare(a.version(), b.version()) : a.model().compareTo(b.model()));
    private final List<EditLatency> latencies = new ArrayList<>();
    private final Map<String, AtomicReference<double[]>> last = new ConcurrentHashMap<>();
    private volatile boolean running = true;

    /**
     * @param kafka    Kafka client settings (bootstrap servers, security)
     * @param store    where the manifests are, for the delta bytes (the caller's to close)
     * @param registry where the meters go
     */
    ChainObserver(Map<String, Object> kafka, SerdeSettings serdes, CheckpointStore store, MeterRegistry registry) {
        Map<String, Object> properties = new HashMap<>(kafka);
        properties.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        properties.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        properties.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        properties.put(ConsumerConfig.GROUP_ID_CONFIG, "editstream-observer-" + java.util.UUID.randomUUID());
        this.consumer = new KafkaConsumer<>(properties, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        this.evaluations = serdes.valueSerde(EditEvaluation.class).deserializer();
        this.checkpoints = serdes.valueSerde(CheckpointPublished.class).deserializer();
        this.store = store;
        this.registry = registry;
        this.thread = new Thread(this::run, "editstream-observer");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void run() {
        try {
            consumer.subscribe(List.of(Topics.EVALUATIONS, Topics.CHECKPOINTS));
            while (running) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(POLL)) {
                    try {
                        if (record.topic().equals(Topics.EVALUATIONS)) {
                            evaluation(evaluations.deserialize(record.topic(), record.headers(), record.value()));
                        } else {
                            checkpoint(checkpoints.deserialize(record.topic(), record.headers(), record.value()));
                        }
                    } catch (RuntimeException | IOException e) {
                        log.warn("{} offset {}: not observed: {}", record.topic(), record.offset(), EditstreamCommand.describe(e));
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            log.error("the observer of evaluations and checkpoints failed", e);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private synchronized void evaluation(EditEvaluation evaluation) {
        String model = evaluation.getModelId();
        Pending pending = versions.computeIfAbsent(new Key(model, evaluation.getCheckpointVersion()), k -> new Pending());
        if (evaluation.getScope() == EvaluationScope.EDIT) {
            if (evaluation.getOutcome() != EditOutcome.APPLIED) {
                Counter.builder("editstream.edits.skipped").tag("model", model).description("edits the worker could not apply")
                        .register(registry).increment();
                return;
            }
            pending.edits++;
            add(pending.efficacy, evaluation.getEfficacy());
            add(pending.specificity, evaluation.getSpecificity());
            long total = evaluation.getLatency().getTotalMs();
            latencies.add(new EditLatency(model, evaluation.getSequence() == null ? 0 : evaluation.getSequence(),
                    evaluation.getCheckpointVersion(), total));
            Counter.builder("editstream.edits.applied").tag("model", model).description("edits applied in committed versions")
                    .register(registry).increment();
            Timer.builder("editstream.edit.latency").tag("model", model).publishPercentileHistogram()
                    .description("the worker's time for an edit's batch: targets, update, store, evaluation")
                    .register(registry).record(total, TimeUnit.MILLISECONDS);
        } else {
            pending.retention = evaluation.getRetention();
        }
        publishLast(model, pending);
    }

    private synchronized void checkpoint(CheckpointPublished checkpoint) throws IOException {
        String model = checkpoint.getModelId();
        Pending pending = versions.computeIfAbsent(new Key(model, checkpoint.getVersion()), k -> new Pending());
        long bytes = 0;
        Manifest manifest = store.manifest(model, checkpoint.getVersion()).orElse(null);
        if (manifest != null) {
            for (Delta delta : manifest.deltas().values()) {
                bytes += store.blob(delta.blob(), "model " + model + " version " + checkpoint.getVersion()).length;
            }
        }
        pending.deltaBytes = bytes;
        DistributionSummary.builder("editstream.checkpoint.bytes").baseUnit("bytes").tag("model", model)
                .description("delta bytes per committed version").register(registry).record(bytes);
    }

    private void publishLast(String model, Pending pending) {
        AtomicReference<double[]> values = last.computeIfAbsent(model, m -> {
            AtomicReference<double[]> holder = new AtomicReference<>(new double[] {Double.NaN, Double.NaN, Double.NaN});
            String[] names = {"efficacy", "specificity", "retention"};
            for (int i = 0; i < names.length; i++) {
                int index = i;
                Gauge.builder("editstream.evaluation." + names[i], holder, h -> h.get()[index]).tag("model", m)
                        .description("the last evaluated version's " + names[i]).register(registry);
            }
            return holder;
        });
        double[] now = values.get().clone();
        mean(pending.efficacy).ifPresent(v -> now[0] = v);
        mean(pending.specificity).ifPresent(v -> now[1] = v);
        if (pending.retention != null) {
            now[2] = pending.retention;
        }
        values.set(now);
    }

    /** Every version seen so far, in order. */
    synchronized List<VersionRow> versions() {
        List<VersionRow> rows = new ArrayList<>();
        versions.forEach((key, p) -> rows.add(new VersionRow(key.model(), key.version(), p.edits, mean(p.efficacy).orElse(Double.NaN),
                mean(p.specificity).orElse(Double.NaN), p.retention == null ? Double.NaN : p.retention,
                p.deltaBytes == null ? -1 : p.deltaBytes)));
        return rows;
    }

    synchronized List<EditLatency> latencies() {
        return List.copyOf(latencies);
    }

    private static void add(List<Double> values, Double value) {
        if (value != null) {
            values.add(value);
        }
    }

    private static OptionalDouble mean(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).average();
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(Duration.ofSeconds(10).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        evaluations.close();
        checkpoints.close();
    }
}

package io.editstream.worker;

import ai.djl.pytorch.jni.JniUtils;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The editor worker: reads {@code edit-requests} with read_committed, applies each model's batches in sequence order,
 * and publishes every version exactly once: blobs and manifest to the store first (idempotent, an uncommitted manifest
 * is overwritten), then one Kafka transaction per batch with the {@code CheckpointPublished}, the evaluations and the
 * consumer's offsets. A gap in a model's sequences stops that model; the other models keep going.
 *
 * <p>One thread does everything: the editors are sequential by nature, and a single consumer thread is what Kafka's
 * transactional offsets assume.
 */
public final class EditorWorker implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EditorWorker.class);
    private static final Duration POLL = Duration.ofMillis(100);
    /** Batches held per partition before the consumer pauses it: an edit takes seconds, a poll brings hundreds. */
    private static final int MAX_QUEUED = 200;
    /** Consecutive failures of one model's batch before the worker stops the model instead of trying again. */
    private static final int MAX_ATTEMPTS = 3;

    /** Kafka client settings every client of the worker starts from (bootstrap servers, security). */
    private final Map<String, Object> kafka;
    private final SerdeSettings serdes;
    private final WorkerSettings settings;
    private final Map<String, ModelRuntime> runtimes;
    private final Map<TopicPartition, PartitionPublisher> publishers = new HashMap<>();
    private final Map<TopicPartition, Deque<ConsumerRecord<String, EditBatch>>> queues = new HashMap<>();
    private final Map<TopicPartition, Long> waitingSince = new HashMap<>();
    /**
     * Per partition, the offset of the first batch passed over because its model is stopped: committed offsets stay
     * at or below it, so a restarted worker reads that model's batches again instead of finding them gone. The other
     * models' batches behind it are applied meanwhile and skipped by sequence when read again.
     */
    private final Map<TopicPartition, Long> held = new HashMap<>();
    private final Map<String, Integer> failures = new HashMap<>();
    private final Map<String, String> stopped = new ConcurrentHashMap<>();
    private final Map<String, Long> applied = new ConcurrentHashMap<>();
    private final KafkaConsumer<String, EditBatch> consumer;
    /**
     * Restores models after an assignment while the consumer thread keeps polling their paused partitions: replaying a
     * long chain takes minutes, longer than a rebalance callback may block before the group drops the member.
     */
    private final ExecutorService restorer = Executors.newSingleThreadExecutor(runnable -> new Thread(() -> {
        JniUtils.setGradMode(false);
        runnable.run();
    }, "editstream-restore"));
    /** The restore in progress, its partitions paused until it is done; null when none is. */
    private Future<?> restoring;
    private final Thread thread;
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile boolean running = true;
    /** A batch was applied or passed over since the last poll: the next one may be ready at once. */
    private boolean progressed;
    private volatile Throwable crash;

    private EditorWorker(Map<String, Object> kafka, SerdeSettings serdes, WorkerSettings settings, Map<String, ModelRuntime> runtimes) {
        this.kafka = Map.copyOf(kafka);
        this.serdes = serdes;
        this.settings = settings;
        this.runtimes = runtimes;
        Properties properties = new Properties();
        properties.putAll(kafka);
        properties.put(ConsumerConfig.GROUP_ID_CONFIG, settings.groupId());
        properties.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        // offsets move only inside the transactions that publish what the batches became
        properties.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        properties.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        properties.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, settings.maxPollIntervalMs());
        this.consumer = new KafkaConsumer<>(properties, new StringDeserializer(), serdes.valueSerde(EditBatch.class).deserializer());
        this.thread = new Thread(this::run, "editstream-worker");
    }

    /**
     * Loads every model (its base registered, C0 from the store or computed, the evaluator on the base weights) and
     * starts consuming. Each model is restored to its last committed version once the worker owns partitions.
     */
    public static EditorWorker start(String bootstrapServers, SerdeSettings serdes, CheckpointStore store, WorkerSettings settings,
                                     List<String> modelIds) throws IOException {
        return start(Map.of(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers), serdes, store, settings, modelIds);
    }

    /** As {@link #start(String, SerdeSettings, CheckpointStore, WorkerSettings, List)}, every client starting from {@code kafka}. */
    public static EditorWorker start(Map<String, Object> kafka, SerdeSettings serdes, CheckpointStore store, WorkerSettings settings,
                                     List<String> modelIds) throws IOException {
        Map<String, ModelRuntime> runtimes = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, WorkerSettings.ModelSettings> model : settings.select(modelIds).entrySet()) {
                runtimes.put(model.getKey(), ModelRuntime.open(model.getKey(), model.getValue(), store));
            }
            EditorWorker worker = new EditorWorker(kafka, serdes, settings, runtimes);
            worker.thread.start();
            return worker;
        } catch (IOException | RuntimeException | Error e) {
            runtimes.values().forEach(ModelRuntime::close);
            throw e;
        }
    }

    /** Models stopped (a sequence gap, a batch that failed again and again), with why. */
    public Map<String, String> stoppedModels() {
        return Map.copyOf(stopped);
    }

    /** The last sequence each model's committed version covers, as far as this worker knows. */
    public Map<String, Long> lastApplied() {
        return Map.copyOf(applied);
    }

    /** The consumer's client metrics (records-lag-max, ...), for a metrics endpoint; safe from any thread. */
    public Map<MetricName, ? extends Metric> consumerMetrics() {
        return consumer.metrics();
    }

    /** What ended the worker's thread, if it ended by failing. */
    public Optional<Throwable> crash() {
        return Optional.ofNullable(crash);
    }

    /** Waits until the worker's thread ended (after {@link #close}, or a crash). */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return finished.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void run() {
        try {
            // PyTorch's grad mode is per thread and on in a new one; the editors expect it off outside their own
            // gradient collectors (as on the thread that started the engine), or their in-place steps fail
            JniUtils.setGradMode(false);
            consumer.subscribe(List.of(Topics.EDIT_REQUESTS), new Assignment());
            while (running) {
                // with batches still queued, a poll only picks up what arrived meanwhile: waiting for it would idle the editor
                boolean busy = progressed;
                progressed = false;
                for (ConsumerRecord<String, EditBatch> record : consumer.poll(busy ? Duration.ZERO : POLL)) {
                    Deque<ConsumerRecord<String, EditBatch>> queue = queues.get(new TopicPartition(record.topic(), record.partition()));
                    if (queue != null) {
                        queue.add(record);
                    }
                }
                if (restoring != null) {
                    if (!restoring.isDone()) {
                        continue;
                    }
                    finishRestore();
                }
                for (TopicPartition partition : List.copyOf(queues.keySet())) {
                    if (!running) {
                        break;
                    }
                    processHead(partition);
                    applyBackpressure(partition);
                }
            }
        } catch (WakeupException | InterruptException e) {
            // close() asked the thread to stop while it waited for Kafka: no transaction is open between batches
        } catch (Throwable e) {
            crash = e;
            log.error("editor worker failed", e);
        } finally {
            try {
                awaitRestore();
                restorer.shutdown();
                closeQuietly(consumer);
                publishers.values().forEach(EditorWorker::closeQuietly);
                publishers.clear();
                runtimes.values().forEach(EditorWorker::closeQuietly);
            } finally {
                finished.countDown();
            }
        }
    }

    /** Applies, passes over or holds back the first queued batch of a partition. */
    private void processHead(TopicPartition partition) {
        ConsumerRecord<String, EditBatch> record = queues.get(partition).peek();
        if (record == null) {
            return;
        }
        EditBatch batch = record.value();
        ModelRuntime runtime = runtimes.get(batch.getModelId());
        if (runtime == null) {
            log.error("partition {} offset {}: a batch for model {}, which this worker does not edit (it edits {}); passed over",
                    partition, record.offset(), batch.getModelId(), runtimes.keySet());
            passOver(partition, record);
            return;
        }
        if (runtime.stopped().isPresent()) {
            hold(partition, record);
            return;
        }
        List<EditRequest> requests = batch.getEdits().stream().filter(edit -> edit.getSequence() > runtime.lastApplied()).toList();
        if (requests.isEmpty()) {
            log.info("model {}: sequences {}..{} are already in version {}; passed over", runtime.modelId(), batch.getFirstSequence(),
                    batch.getLastSequence(), runtime.head().version());
            passOver(partition, record);
            return;
        }
        long expected = runtime.lastApplied() + 1;
        if (requests.get(0).getSequence() != expected) {
            stop(runtime, "sequence gap: a batch starts at sequence " + requests.get(0).getSequence() + " but the last applied sequence is "
                    + runtime.lastApplied() + " (expected " + expected + ")");
            hold(partition, record);
            return;
        }
        BatchEdit edit = new BatchEdit(runtime, requests);
        long now = System.currentTimeMillis();
        boolean mayCut = now - waitingSince.computeIfAbsent(partition, p -> now) >= settings.prepareWaitMs();
        List<EditRequest> queued = queuedBehind(partition, runtime.modelId());
        Optional<List<PrepareGroups.Group>> groups = edit.plan(queued, mayCut);
        if (groups.isEmpty()) {
            return; // the rest of the prepare group is on its way
        }
        waitingSince.remove(partition);
        // the targets of whole groups queued behind are computed on their own thread while this batch is applied
        edit.prepareAhead(groups.get(), queued, runtime.settings().prepareAhead());
        try {
            long started = System.nanoTime();
            BatchEdit.Version version = edit.apply(groups.get());
            long committing = System.nanoTime();
            publishers.get(partition).publish(version, committable(partition, record), consumer.groupMetadata());
            runtime.advanced(edit.last(), version.applied());
            applied.put(runtime.modelId(), edit.last());
            failures.remove(runtime.modelId());
            queues.get(partition).poll();
            progressed = true;
            log.info("model {}: sequences {}..{} -> version {} in {} ms ({}, commit {} ms); {} batches queued", runtime.modelId(),
                    edit.first(), edit.last(), version.checkpoint().getVersion(), (System.nanoTime() - started) / 1_000_000,
                    version.timing(), (System.nanoTime() - committing) / 1_000_000, queues.get(partition).size());
        } catch (WakeupException | InterruptException e) {
            throw e;
        } catch (RuntimeException | IOException e) {
            failed(partition, runtime, e);
        }
    }

    /** The model's edits queued behind the head batch: what its prepare groups can be completed from. */
    private List<EditRequest> queuedBehind(TopicPartition partition, String modelId) {
        List<EditRequest> queued = new ArrayList<>();
        boolean head = true;
        for (ConsumerRecord<String, EditBatch> record : queues.get(partition)) {
            if (!head && record.value().getModelId().equals(modelId)) {
                queued.addAll(record.value().getEdits());
            }
            head = false;
        }
        return queued;
    }

    /**
     * A batch failed before its transaction committed. The model's editor and head may have gone past the last committed
     * version, so the model is restored to it and the partition read again from its committed offset; a partition another
     * worker took over is given up.
     */
    private void failed(TopicPartition partition, ModelRuntime runtime, Exception e) {
        queues.get(partition).clear();
        waitingSince.remove(partition);
        held.remove(partition);
        if (PartitionPublisher.fenced(e)) {
            giveUp(partition);
            return;
        }
        int attempts = failures.merge(runtime.modelId(), 1, Integer::sum);
        log.error("model {}: batch failed (attempt {} of {})", runtime.modelId(), attempts, MAX_ATTEMPTS, e);
        try {
            runtime.restore(CommittedCheckpoints.of(CommittedCheckpoints.read(kafka, serdes), runtime.modelId()));
        } catch (IOException | RuntimeException restoreFailed) {
            stop(runtime, "cannot restore after a failed batch: " + restoreFailed);
        }
        if (attempts >= MAX_ATTEMPTS) {
            stop(runtime, "a batch failed " + attempts + " times, last: " + e);
        }
        OffsetAndMetadata committed = consumer.committed(Set.of(partition)).get(partition);
        if (committed != null) {
            consumer.seek(partition, committed);
        } else {
            consumer.seekToBeginning(Set.of(partition));
        }
    }

    /** The offset to commit once {@code record} is done: past it, unless a stopped model's batch before it holds the partition. */
    private long committable(TopicPartition partition, ConsumerRecord<String, EditBatch> record) {
        Long floor = held.get(partition);
        return floor == null ? record.offset() + 1 : Math.min(floor, record.offset() + 1);
    }

    /** Passes over a stopped model's batch without committing past it (see {@link #held}). */
    private void hold(TopicPartition partition, ConsumerRecord<String, EditBatch> record) {
        if (held.putIfAbsent(partition, record.offset()) == null) {
            log.warn("partition {}: model {} is stopped; committed offsets stay at {} until a restart reads its batches again",
                    partition, record.value().getModelId(), record.offset());
        }
        queues.get(partition).poll();
        waitingSince.remove(partition);
        progressed = true;
    }

    /** Commits the position past a batch that publishes nothing; when that fails, the batch stays first in line. */
    private void passOver(TopicPartition partition, ConsumerRecord<String, EditBatch> record) {
        try {
            publishers.get(partition).commitOffset(committable(partition, record), consumer.groupMetadata());
        } catch (WakeupException | InterruptException e) {
            throw e;
        } catch (RuntimeException e) {
            if (PartitionPublisher.fenced(e)) {
                giveUp(partition);
            } else {
                log.warn("partition {}: cannot commit the position past offset {}; trying again: {}", partition, record.offset(), e.toString());
            }
            return;
        }
        queues.get(partition).poll();
        waitingSince.remove(partition);
        progressed = true;
    }

    /** Another worker owns the partition now (its initTransactions fenced this one's producer): stop reading and writing it. */
    private void giveUp(TopicPartition partition) {
        log.warn("partition {}: another worker took it over (producer fenced); this worker stops writing it", partition);
        closeQuietly(publishers.remove(partition));
        queues.remove(partition);
        waitingSince.remove(partition);
        held.remove(partition);
        consumer.pause(Set.of(partition));
    }

    private void stop(ModelRuntime runtime, String reason) {
        runtime.stop(reason);
        stopped.put(runtime.modelId(), reason);
    }

    private void applyBackpressure(TopicPartition partition) {
        Deque<ConsumerRecord<String, EditBatch>> queue = queues.get(partition);
        if (queue == null) {
            return;
        }
        if (queue.size() >= MAX_QUEUED) {
            consumer.pause(Set.of(partition));
        } else if (consumer.paused().contains(partition)) {
            consumer.resume(Set.of(partition));
        }
    }

    /**
     * Stops after the batch in progress (its transaction commits, or aborts on failure) and closes the consumer, the
     * producers and the models; a worker that does not finish within the timeout leaves its open transaction to the
     * broker, which aborts it, and to the next owner of the partition, whose initTransactions fences it.
     */
    @Override
    public void close() {
        if (finished.getCount() == 0) {
            return;
        }
        running = false;
        consumer.wakeup();
        try {
            if (!finished.await(2, TimeUnit.MINUTES)) {
                log.warn("the editor worker did not finish its batch within 2 minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(AutoCloseable closeable) {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        } catch (Exception e) {
            log.warn("closing {} failed: {}", closeable.getClass().getSimpleName(), e.toString());
        }
    }

    /** Resumes the partitions a finished restore held paused; a restore that failed as a whole ends the worker. */
    private void finishRestore() throws ExecutionException, InterruptedException {
        try {
            restoring.get();
        } finally {
            restoring = null;
        }
        // a partition given up meanwhile stays paused
        consumer.resume(consumer.paused().stream().filter(queues::containsKey).toList());
    }

    /** Waits for a restore still running: the models it works on must not be used, or closed, under it. */
    private void awaitRestore() {
        if (restoring == null) {
            return;
        }
        try {
            restoring.get();
        } catch (ExecutionException e) {
            log.error("restoring the models failed", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Brings every model whose committed version is not the one it holds to that version; a model that cannot be restored stops. */
    private void restoreModels(Collection<TopicPartition> partitions) {
        Map<String, CheckpointPublished> committed = CommittedCheckpoints.read(kafka, serdes);
        for (ModelRuntime runtime : runtimes.values()) {
            Optional<CheckpointPublished> version = CommittedCheckpoints.of(committed, runtime.modelId());
            long committedVersion = version.map(CheckpointPublished::getVersion).orElse(0L);
            if (runtime.restored() && runtime.head().version() == committedVersion) {
                continue;
            }
            try {
                runtime.restore(version);
                applied.put(runtime.modelId(), runtime.lastApplied());
            } catch (IOException | RuntimeException e) {
                log.error("model {}: cannot restore version {}", runtime.modelId(), committedVersion, e);
                stop(runtime, "cannot restore version " + committedVersion + ": " + e);
            }
        }
        log.info("assigned {}; models at sequences {}", partitions, applied);
    }

    /** Partitions come and go with the group: a new owner fences the old one first, then restores what it committed. */
    private final class Assignment implements ConsumerRebalanceListener {

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (partitions.isEmpty()) {
                return;
            }
            for (TopicPartition partition : partitions) {
                // before reading the checkpoints: fencing aborts a zombie's open transaction, so the last stable offset moves on
                publishers.put(partition, new PartitionPublisher(kafka, serdes, settings.transactionalIdPrefix(), partition));
                queues.put(partition, new ArrayDeque<>());
            }
            // one restore at a time: a second assignment during the first waits for it, then restores what is still behind
            awaitRestore();
            consumer.pause(partitions);
            restoring = restorer.submit(() -> restoreModels(partitions));
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            for (TopicPartition partition : partitions) {
                closeQuietly(publishers.remove(partition));
                queues.remove(partition);
                waitingSince.remove(partition);
                held.remove(partition);
            }
        }
    }
}

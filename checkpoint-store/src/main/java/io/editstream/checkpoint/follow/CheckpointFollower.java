package io.editstream.checkpoint.follow;

import io.editstream.checkpoint.BaseModel;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.CorruptCheckpointException;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fleet subscriber: follows one model's {@link CheckpointPublished} events (read_committed, so a version whose
 * transaction aborted never counts), materialises each version from the store with every blob and tensor hash
 * checked, and hands it to a {@link VersionSink}. A late start begins at the nearest snapshot; a corrupt blob, a
 * broken chain, a manifest that is not the committed version or a checkpoint for another base is refused (logged and
 * kept in {@link #status()}) and the sink keeps the version it has.
 *
 * <p>One thread of its own does all the work: the store, the consumer and the sink are only touched there.
 */
public final class CheckpointFollower implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CheckpointFollower.class);
    private static final Duration POLL = Duration.ofMillis(200);
    private static final Duration WAIT = Duration.ofMillis(500);
    private static final Duration TOPIC_TIMEOUT = Duration.ofSeconds(30);

    /**
     * @param kafkaConfig        further consumer settings (security, SASL, SSL); the follower's own isolation level and
     *                           offset handling win over them
     * @param expectedBaseSha256 the base the sink's weights are (a served model's), refused when the store's differs;
     *                           null to take the store's
     * @param start              where to start: the latest version, a pinned one, or a rollback
     * @param retryEvery         how long before a refused version is tried again when no newer event arrives (a blob
     *                           repaired in the store)
     * @param maxStepwise        the most versions applied one after another; a longer way forward starts again from
     *                           the nearest snapshot
     */
    public record Settings(String bootstrapServers, Map<String, Object> kafkaConfig, SerdeSettings serdes, String modelId,
                           String expectedBaseSha256, FollowTarget start, Duration retryEvery, int maxStepwise) {
        public Settings {
            Objects.requireNonNull(bootstrapServers, "bootstrapServers");
            kafkaConfig = Map.copyOf(kafkaConfig);
            Objects.requireNonNull(serdes, "serdes");
            Objects.requireNonNull(modelId, "modelId");
            Objects.requireNonNull(start, "start");
            if (retryEvery.isNegative() || maxStepwise < 1) {
                throw new IllegalArgumentException("a negative retry interval or a stepwise limit below 1");
            }
        }

        /** Follows the latest version, retrying a refused one every 30 s, from a snapshot when 20 or more behind. */
        public static Settings of(String bootstrapServers, SerdeSettings serdes, String modelId) {
            return new Settings(bootstrapServers, Map.of(), serdes, modelId, null, FollowTarget.latest(), Duration.ofSeconds(30), 20);
        }

        public Settings withStart(FollowTarget target) {
            return new Settings(bootstrapServers, kafkaConfig, serdes, modelId, expectedBaseSha256, target, retryEvery, maxStepwise);
        }

        public Settings withExpectedBase(String sha256) {
            return new Settings(bootstrapServers, kafkaConfig, serdes, modelId, sha256, start, retryEvery, maxStepwise);
        }

        public Settings withKafkaConfig(Map<String, Object> config) {
            return new Settings(bootstrapServers, config, serdes, modelId, expectedBaseSha256, start, retryEvery, maxStepwise);
        }
    }

    private record Command(FollowTarget target, CompletableFuture<FollowStatus> done) {
    }

    private final Settings settings;
    private final CheckpointStore store;
    private final VersionSink sink;
    private final Thread thread;
    private final LinkedBlockingQueue<Command> commands = new LinkedBlockingQueue<>();
    private final Object statusLock = new Object();
    private volatile FollowStatus status;
    private volatile boolean closing;
    private volatile KafkaConsumer<String, CheckpointPublished> consumer;
    /** Set once the only blocking consumer call left is poll(), which takes a wakeup; endOffsets and position do not. */
    private volatile boolean polling;

    // the follower thread's own state
    private final TreeMap<Long, CheckpointPublished> committed = new TreeMap<>();
    private BaseModel base;
    private FollowTarget target;
    private ModelHead head;
    private long failedTarget = -1;
    private long failedAt;
    private boolean newEvents;

    private CheckpointFollower(Settings settings, CheckpointStore store, VersionSink sink) {
        this.settings = settings;
        this.store = store;
        this.sink = sink;
        this.target = settings.start();
        this.status = new FollowStatus(FollowStatus.State.STARTING, settings.modelId(), null, -1, new TreeMap<>(), 0, target,
                null, null, 0);
        this.thread = new Thread(this::run, "editstream-follow-" + settings.modelId());
        this.thread.setDaemon(true);
    }

    /** Starts following on a thread of its own; {@link #close} stops it. The store stays the caller's to close. */
    public static CheckpointFollower start(Settings settings, CheckpointStore store, VersionSink sink) {
        CheckpointFollower follower = new CheckpointFollower(settings, store, sink);
        follower.thread.start();
        return follower;
    }

    public FollowStatus status() {
        return status;
    }

    /** Waits until the status satisfies {@code condition}; fails naming the last status when it does not in time. */
    public FollowStatus awaitStatus(Predicate<FollowStatus> condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (statusLock) {
            while (!condition.test(status)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IllegalStateException("the follower of " + settings.modelId() + " did not reach the expected state within "
                            + timeout + "; it is " + status);
                }
                statusLock.wait(Math.max(1, left / 1_000_000));
            }
            return status;
        }
    }

    /** Follows the latest committed version again; completes once the follower has moved (or could not). */
    public CompletableFuture<FollowStatus> followLatest() {
        return moveTo(FollowTarget.latest());
    }

    /**
     * Serves {@code version} and stays there. When it is not published yet the follower waits for it, and the future
     * completes at once with the version still served.
     */
    public CompletableFuture<FollowStatus> pin(long version) {
        return moveTo(new FollowTarget.Pinned(version));
    }

    /** Moves back to a committed version and stays there; fails when {@code version} is not committed. */
    public CompletableFuture<FollowStatus> rollbackTo(long version) {
        return moveTo(new FollowTarget.RolledBack(version));
    }

    /** {@link #followLatest}, {@link #pin} or {@link #rollbackTo}, as {@code next} says. */
    public CompletableFuture<FollowStatus> moveTo(FollowTarget next) {
        CompletableFuture<FollowStatus> done = new CompletableFuture<>();
        if (closing || status.state() == FollowStatus.State.FAILED) {
            done.completeExceptionally(new IllegalStateException("the follower of " + settings.modelId() + " is " + status.state()));
            return done;
        }
        commands.add(new Command(next, done));
        wake();
        return done;
    }

    private void wake() {
        KafkaConsumer<String, CheckpointPublished> current = consumer;
        if (current != null && (polling || closing)) {
            current.wakeup();
        }
    }

    // ---- the follower thread

    private void run() {
        try {
            base = awaitBase();
            if (base == null) {
                return;
            }
            String expected = settings.expectedBaseSha256();
            if (expected != null && !expected.equals(base.sha256())) {
                fail("model " + settings.modelId() + " has base " + base.sha256() + " in the store, but the weights to serve hash to "
                        + expected + ": these versions are for another base");
                return;
            }
            update(s -> new FollowStatus(s.state(), s.modelId(), base.sha256(), s.version(), s.tensorSha256(), s.latestCommitted(),
                    s.target(), s.lastRefusal(), s.failure(), s.swaps()));
            try (KafkaConsumer<String, CheckpointPublished> opened = openConsumer()) {
                consumer = opened;
                if (closing) {
                    return;
                }
                follow(opened);
            } finally {
                consumer = null;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            if (!closing) {
                log.error("the follower of {} failed", settings.modelId(), e);
                fail("the follower failed: " + describe(e));
            }
        } finally {
            for (Command command; (command = commands.poll()) != null; ) {
                command.done().completeExceptionally(new IllegalStateException("the follower of " + settings.modelId() + " stopped"));
            }
            if (status.state() != FollowStatus.State.FAILED) {
                update(s -> s.with(FollowStatus.State.CLOSED));
            }
        }
    }

    /** The model's base, once a writer has registered it; a store that cannot be read now is asked again. */
    private BaseModel awaitBase() throws InterruptedException {
        String said = null;
        while (!closing) {
            String why;
            try {
                Optional<BaseModel> found = store.base(settings.modelId());
                if (found.isPresent()) {
                    return found.get();
                }
                why = "model " + settings.modelId() + " has no base in the store yet; waiting for a writer to register it";
            } catch (IOException e) {
                why = "cannot read the base of " + settings.modelId() + " from the store (" + describe(e) + "); trying again";
            }
            if (!why.equals(said)) {
                log.info("{}", why);
                said = why;
            }
            Thread.sleep(WAIT.toMillis());
        }
        return null;
    }

    private KafkaConsumer<String, CheckpointPublished> openConsumer() {
        Map<String, Object> properties = new HashMap<>(settings.kafkaConfig());
        properties.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        properties.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        properties.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        properties.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        properties.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "editstream-follow-" + settings.modelId());
        return new KafkaConsumer<>(properties, new StringDeserializer(),
                settings.serdes().valueSerde(CheckpointPublished.class).deserializer());
    }

    /**
     * Reads the whole topic up to its last stable offset before serving anything, so that a late start materialises
     * the latest version once (from its nearest snapshot) instead of walking through every version on the way.
     */
    private void follow(KafkaConsumer<String, CheckpointPublished> consumer) throws InterruptedException {
        List<TopicPartition> partitions = awaitPartitions(consumer);
        if (partitions == null) {
            return;
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, TOPIC_TIMEOUT);
        while (!closing && !end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
            poll(consumer);
        }
        if (closing) {
            return;
        }
        if (target instanceof FollowTarget.RolledBack back && back.version() > latest()) {
            fail("cannot roll back to version " + back.version() + " of " + settings.modelId() + ": the latest committed version is "
                    + latest());
            return;
        }
        polling = true;
        update(s -> s.with(FollowStatus.State.FOLLOWING));
        log.info("following {} (base {}) from the checkpoints topic: {} versions committed, latest {}; {}", settings.modelId(),
                base.sha256(), committed.size(), latest(), target);
        while (!closing) {
            Command command = commands.poll();
            if (command != null) {
                execute(command);
                continue;
            }
            catchUp();
            poll(consumer);
        }
    }

    private List<TopicPartition> awaitPartitions(KafkaConsumer<String, CheckpointPublished> consumer) throws InterruptedException {
        boolean logged = false;
        while (!closing) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.CHECKPOINTS, TOPIC_TIMEOUT).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            if (!partitions.isEmpty()) {
                return partitions;
            }
            if (!logged) {
                log.info("topic {} does not exist yet; waiting for it", Topics.CHECKPOINTS);
                logged = true;
            }
            Thread.sleep(WAIT.toMillis());
        }
        return null;
    }

    private void poll(KafkaConsumer<String, CheckpointPublished> consumer) {
        try {
            for (ConsumerRecord<String, CheckpointPublished> record : consumer.poll(POLL)) {
                receive(record.value());
            }
        } catch (WakeupException e) {
            // a command or close(): handled by the loop
        } catch (RecordDeserializationException e) {
            // one unreadable record must not stop the fleet: pass over it, say so (when it is this model's), keep the version served
            consumer.seek(e.topicPartition(), e.offset() + 1);
            ByteBuffer key = e.keyBuffer();
            if (key != null && !settings.modelId().equals(StandardCharsets.UTF_8.decode(key.duplicate()).toString())) {
                log.debug("passed over an unreadable record of another model at {} offset {}", e.topicPartition(), e.offset());
                return;
            }
            refuse(-1, "the record at " + e.topicPartition() + " offset " + e.offset() + " is not a readable CheckpointPublished ("
                    + describe(e.getCause() != null ? e.getCause() : e) + "); passed over");
        }
    }

    private void receive(CheckpointPublished event) {
        if (event == null || !settings.modelId().equals(event.getModelId())) {
            return;
        }
        if (!base.sha256().equals(event.getBaseModelSha256())) {
            refuse(event.getVersion(), "version " + event.getVersion() + " of " + settings.modelId() + " is for base "
                    + event.getBaseModelSha256() + ", not this model's base " + base.sha256());
            return;
        }
        committed.put(event.getVersion(), event);
        newEvents = true;
        if (event.getVersion() > status.latestCommitted()) {
            update(s -> new FollowStatus(s.state(), s.modelId(), s.baseSha256(), s.version(), s.tensorSha256(), event.getVersion(),
                    s.target(), s.lastRefusal(), s.failure(), s.swaps()));
        }
    }

    private long latest() {
        return committed.isEmpty() ? 0 : committed.lastKey();
    }

    private void execute(Command command) {
        FollowTarget next = command.target();
        if (next instanceof FollowTarget.RolledBack back && back.version() > latest()) {
            command.done().completeExceptionally(new IllegalArgumentException("cannot roll back to version " + back.version() + " of "
                    + settings.modelId() + ": the latest committed version is " + latest()));
            return;
        }
        target = next;
        failedTarget = -1;
        update(s -> new FollowStatus(s.state(), s.modelId(), s.baseSha256(), s.version(), s.tensorSha256(), s.latestCommitted(),
                next, s.lastRefusal(), s.failure(), s.swaps()));
        log.info("{}: now {}", settings.modelId(), next);
        long wanted = wanted();
        if (wanted > latest()) {
            command.done().complete(status);
            return;
        }
        catchUp();
        if (status.version() == wanted) {
            command.done().complete(status);
        } else {
            Refusal refusal = status.lastRefusal();
            command.done().completeExceptionally(new IllegalStateException("could not move " + settings.modelId() + " to version " + wanted
                    + (refusal == null ? "" : ": " + refusal.reason()) + "; still serving version " + status.version()));
        }
    }

    private long wanted() {
        if (target instanceof FollowTarget.Pinned pinned) {
            return pinned.version();
        }
        if (target instanceof FollowTarget.RolledBack back) {
            return back.version();
        }
        return latest();
    }

    /** Moves to the wanted version when it is committed and not refused since the last news. */
    private void catchUp() {
        long wanted = wanted();
        boolean news = newEvents;
        newEvents = false;
        if (wanted > latest() || wanted == status.version() && head != null) {
            return;
        }
        if (wanted == failedTarget && !news && System.nanoTime() - failedAt < settings.retryEvery().toNanos()) {
            return;
        }
        move(wanted);
    }

    private void move(long wanted) {
        long started = System.nanoTime();
        long from = status.version();
        try {
            ModelHead next;
            if (head != null && wanted > head.version() && wanted - head.version() <= settings.maxStepwise()) {
                next = head;
                head = null; // half-advanced if this fails: materialised again next time
                next.advanceTo(wanted);
            } else if (wanted == 0) {
                next = store.head(settings.modelId());
            } else {
                next = store.materialise(settings.modelId(), wanted, CheckpointStore.Start.NEAREST);
            }
            checkCommitted(next);
            sink.swapTo(next);
            head = next;
            failedTarget = -1;
            Manifest manifest = next.manifest().orElse(null);
            SortedMap<String, String> hashes = manifest == null ? new TreeMap<>() : manifest.tensorSha256();
            update(s -> new FollowStatus(s.state(), s.modelId(), s.baseSha256(), wanted, hashes, s.latestCommitted(), s.target(),
                    s.lastRefusal(), s.failure(), s.swaps() + 1));
            log.info("{}: serving version {} (was {}; latest committed {}) after {} ms", settings.modelId(), wanted, from, latest(),
                    (System.nanoTime() - started) / 1_000_000);
        } catch (IOException | RuntimeException e) {
            failedTarget = wanted;
            failedAt = System.nanoTime();
            refuse(wanted, describe(e) + "; still serving version " + from);
            head = headAt(from);
        }
    }

    /**
     * The served version again, for the next move to start from: a move forward from a head goes version by version,
     * so {@link ModelHead#advanceTo} sees every link of the chain.
     */
    private ModelHead headAt(long version) {
        try {
            if (version < 0) {
                return null;
            }
            return version == 0 ? store.head(settings.modelId())
                    : store.materialise(settings.modelId(), version, CheckpointStore.Start.NEAREST);
        } catch (IOException | RuntimeException e) {
            log.warn("{}: cannot materialise the served version {} again ({}); the next move starts from the nearest snapshot",
                    settings.modelId(), version, describe(e));
            return null;
        }
    }

    /** The store's version must be the one committed on Kafka: a manifest rewritten after an abort is not. */
    private void checkCommitted(ModelHead next) throws CorruptCheckpointException {
        if (next.version() == 0) {
            return;
        }
        Manifest manifest = next.manifest().orElseThrow();
        if (!base.sha256().equals(manifest.baseSha256())) {
            throw new CorruptCheckpointException("model " + settings.modelId() + " version " + next.version() + " names base "
                    + manifest.baseSha256() + ", not this model's base " + base.sha256());
        }
        CheckpointPublished event = committed.get(next.version());
        if (event != null && !Objects.equals(event.getParentVersion(), manifest.parentVersion())) {
            throw new CorruptCheckpointException("model " + settings.modelId() + " version " + next.version() + " names parent "
                    + manifest.parentVersion() + " in the store, the committed checkpoint event parent " + event.getParentVersion()
                    + " (broken chain)");
        }
        if (event != null && !event.getTensorHashes().equals(manifest.tensorSha256())) {
            throw new CorruptCheckpointException("model " + settings.modelId() + " version " + next.version() + " in the store has tensor hashes "
                    + manifest.tensorSha256() + ", the committed checkpoint event says " + event.getTensorHashes());
        }
    }

    private void refuse(long version, String reason) {
        log.error("{}: refused version {}: {}", settings.modelId(), version, reason);
        Refusal refusal = new Refusal(version, reason, Instant.now());
        update(s -> new FollowStatus(s.state(), s.modelId(), s.baseSha256(), s.version(), s.tensorSha256(), s.latestCommitted(),
                s.target(), refusal, s.failure(), s.swaps()));
    }

    private void fail(String reason) {
        log.error("{}: {}", settings.modelId(), reason);
        update(s -> new FollowStatus(FollowStatus.State.FAILED, s.modelId(), s.baseSha256(), s.version(), s.tensorSha256(),
                s.latestCommitted(), s.target(), s.lastRefusal(), reason, s.swaps()));
    }

    private void update(java.util.function.UnaryOperator<FollowStatus> change) {
        synchronized (statusLock) {
            status = change.apply(status);
            statusLock.notifyAll();
        }
    }

    private static String describe(Throwable e) {
        String message = e.getMessage();
        return e instanceof IOException && message != null ? message : e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }

    /** Stops the thread and closes the consumer; the sink keeps the version it has. */
    @Override
    public void close() {
        closing = true;
        wake();
        try {
            thread.join(Duration.ofSeconds(30).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            log.warn("the follower of {} did not stop within 30 s", settings.modelId());
        }
    }
}

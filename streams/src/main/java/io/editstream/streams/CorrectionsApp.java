package io.editstream.streams;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.editstream.events.SerdeSettings;

/**
 * Runs the corrections topology: a {@link KafkaStreams} instance with exactly-once (v2) processing, a handler that
 * replaces a thread that died of an unexpected error (and stops the application, naming the record, when threads
 * keep dying on the same one), and a start that returns only once the output schemas are resolved in the registry
 * and the instance is RUNNING.
 */
public final class CorrectionsApp implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CorrectionsApp.class);

    /** How long {@link #start} waits for RUNNING unless told otherwise. */
    public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(60);
    /** How long {@link #close} waits for the threads to finish and commit. */
    public static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

    /** Kafka's default max.request.size. */
    private static final int DEFAULT_MAX_REQUEST_SIZE = 1024 * 1024;
    /** Room beside the limited parts of a record: a dead letter's message and ids, framing, headers. */
    private static final int RECORD_SLACK = 16 * 1024;

    private final KafkaStreams streams;
    private final RecordFailures failures;

    private CorrectionsApp(KafkaStreams streams, RecordFailures failures) {
        this.streams = streams;
        this.failures = failures;
    }

    /** As {@link #start(String, TopologySettings, SerdeSettings, Map, Duration)} with the default timeout. */
    public static CorrectionsApp start(String bootstrapServers, TopologySettings settings, SerdeSettings serdes,
            Map<String, Object> streamsOverrides) {
        return start(bootstrapServers, settings, serdes, streamsOverrides, DEFAULT_START_TIMEOUT);
    }

    /**
     * Builds the topology and starts it.
     *
     * @param streamsOverrides Kafka Streams settings; must include {@code application.id}, usually {@code state.dir};
     *                         {@code processing.guarantee} may only be {@code exactly_once_v2}
     * @throws IllegalArgumentException when application.id is missing or another processing guarantee is asked for
     * @throws IllegalStateException    when the schema registry cannot resolve the output schemas, or the instance is
     *                                  not RUNNING within the timeout (it is closed first)
     */
    public static CorrectionsApp start(String bootstrapServers, TopologySettings settings, SerdeSettings serdes,
            Map<String, Object> streamsOverrides, Duration startTimeout) {
        Properties props = streamsProperties(bootstrapServers, streamsOverrides);
        requireRoomForTheLargestRecord(props, settings);
        OutputSerdes outputs = OutputSerdes.of(serdes);
        try {
            outputs.resolveSchemas(settings);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot resolve the output schemas in the schema registry ("
                    + serdes.config().get("apicurio.registry.url") + "): " + e, e);
        }
        RecordFailures failures = new RecordFailures(settings.maxFailuresPerRecord());
        props.put(RecordFailures.CONFIG, failures);
        props.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, FailureHandlers.Processing.class);
        props.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, FailureHandlers.Production.class);
        int partitions = partitionsOf(bootstrapServers, settings.correctionsTopic());
        KafkaStreams streams = new KafkaStreams(CorrectionsTopology.build(settings, serdes, outputs, partitions),
                props);
        CountDownLatch running = new CountDownLatch(1);
        AtomicReference<KafkaStreams.State> failed = new AtomicReference<>();
        streams.setStateListener((now, before) -> {
            log.info("corrections topology {} -> {}", before, now);
            if (now == KafkaStreams.State.RUNNING) {
                running.countDown();
            } else if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.PENDING_ERROR) {
                failed.set(now);
                running.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(failures::onThreadDeath);
        CorrectionsApp app = new CorrectionsApp(streams, failures);
        try {
            streams.start();
            if (!running.await(startTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("the corrections topology did not reach RUNNING within "
                        + startTimeout.toSeconds() + " s (state " + streams.state() + ", bootstrap "
                        + bootstrapServers + "): is the broker reachable and do the topics "
                        + List.of(settings.correctionsTopic(), settings.editRequestsTopic(), settings.deadLetterTopic())
                        + " exist?");
            }
            if (failed.get() != null) {
                throw new IllegalStateException("the corrections topology failed to start (state " + failed.get()
                        + "): " + failures.fatal().orElse("see the log for the cause"));
            }
            log.info("corrections topology running: {} -> {} (dlq {}), application.id {}",
                    settings.correctionsTopic(), settings.editRequestsTopic(), settings.deadLetterTopic(),
                    props.getProperty(StreamsConfig.APPLICATION_ID_CONFIG));
            return app;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            app.close();
            throw new IllegalStateException("interrupted while starting the corrections topology", e);
        } catch (RuntimeException e) {
            app.close();
            throw e;
        }
    }

    private static Properties streamsProperties(String bootstrapServers, Map<String, Object> overrides) {
        Object guarantee = overrides.get(StreamsConfig.PROCESSING_GUARANTEE_CONFIG);
        if (guarantee != null && !StreamsConfig.EXACTLY_ONCE_V2.equals(guarantee)) {
            throw new IllegalArgumentException(StreamsConfig.PROCESSING_GUARANTEE_CONFIG + " must be "
                    + StreamsConfig.EXACTLY_ONCE_V2 + " (sequence numbers must be gap-free), got " + guarantee);
        }
        if (overrides.get(StreamsConfig.APPLICATION_ID_CONFIG) == null) {
            throw new IllegalArgumentException(StreamsConfig.APPLICATION_ID_CONFIG + " is required");
        }
        Properties props = new Properties();
        // Each task reads one partition: there is nothing to wait for, and the idle check costs time per record.
        props.put(StreamsConfig.MAX_TASK_IDLE_MS_CONFIG, -1L);
        props.putAll(overrides);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        return props;
    }

    /**
     * The topology's byte limits must keep every record it writes under the producer's max.request.size: a record
     * over it can neither be written nor skipped under exactly-once (the transaction has to abort), so the thread
     * would die on it again and again.
     */
    private static void requireRoomForTheLargestRecord(Properties props, TopologySettings settings) {
        Object configured = props.getOrDefault(StreamsConfig.producerPrefix(ProducerConfig.MAX_REQUEST_SIZE_CONFIG),
                props.getOrDefault(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, DEFAULT_MAX_REQUEST_SIZE));
        long maxRequestSize = Long.parseLong(configured.toString().strip());
        long largest = Math.max(settings.validationRules().maxCorrectionBytes(),
                Math.max(settings.batchMaxBytes(), settings.deadLetterMaxOriginalBytes())) + RECORD_SLACK;
        if (largest > maxRequestSize) {
            throw new IllegalArgumentException("the producer's max.request.size (" + maxRequestSize + ") is below "
                    + "the largest record the topology may write (" + largest + " bytes: the largest of "
                    + TopologySettings.MAX_CORRECTION_BYTES + ", " + TopologySettings.BATCH_MAX_BYTES + " and "
                    + TopologySettings.DLQ_MAX_ORIGINAL_BYTES + ", plus " + RECORD_SLACK + " for the rest): lower "
                    + "those or raise max.request.size (and the topics' max.message.bytes)");
        }
    }

    private static int partitionsOf(String bootstrapServers, String topic) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers))) {
            return admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic)
                    .partitions().size();
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot describe the corrections topic " + topic + " on "
                    + bootstrapServers + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while describing " + topic, e);
        }
    }

    /** Partition counts of the topics the topology reads and writes: name → partitions. */
    public static Map<String, Integer> topicPartitions(TopologySettings settings, int partitions) {
        Map<String, Integer> topics = new HashMap<>();
        topics.put(settings.correctionsTopic(), partitions);
        topics.put(settings.editRequestsTopic(), partitions);
        // Refusals are rare and read by people: one partition keeps them in arrival order.
        topics.put(settings.deadLetterTopic(), 1);
        return topics;
    }

    /**
     * Creates the topology's input and output topics (existing ones are left alone). Corrections and edit-requests
     * get {@code partitions} partitions each (the parallelism of the topology and of the editor workers; a model's
     * corrections and batches each stay on one partition), the DLQ one.
     */
    public static void createTopics(Admin admin, TopologySettings settings, int partitions, short replicationFactor) {
        List<NewTopic> topics = topicPartitions(settings, partitions).entrySet().stream()
                .map(e -> new NewTopic(e.getKey(), e.getValue(), replicationFactor))
                .toList();
        for (var result : admin.createTopics(topics).values().entrySet()) {
            try {
                result.getValue().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new IllegalStateException("cannot create topic " + result.getKey() + ": " + e.getCause(),
                            e.getCause());
                }
            } catch (TimeoutException e) {
                throw new IllegalStateException("timed out creating topic " + result.getKey(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while creating topics", e);
            }
        }
    }

    public KafkaStreams.State state() {
        return streams.state();
    }

    /** Why the application stopped itself (state ERROR), naming the record threads kept dying on; empty otherwise. */
    public Optional<String> failure() {
        return failures.fatal();
    }

    /** Kafka Streams' metrics, including the {@link PipelineMetrics} counters. */
    public Map<MetricName, ? extends Metric> metrics() {
        return streams.metrics();
    }

    @Override
    public void close() {
        // Leaving the group lets a restarted instance take the partitions over at once instead of after the
        // session timeout.
        if (!streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                .withTimeout(CLOSE_TIMEOUT))) {
            log.warn("the corrections topology did not shut down within {} s", CLOSE_TIMEOUT.toSeconds());
        }
    }
}

package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.fail;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.objects.ObjectStores;
import io.editstream.edit.SampledCorpus;
import io.editstream.embedded.EmbeddedStack;
import io.editstream.events.EditBatch;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import io.editstream.model.SharedData;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.train.CommittedTestbed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The embedded broker and registry with the worker's topics, and what the worker's integration tests do on them.
 * A test class registers one ({@code @RegisterExtension static final WorkerStack stack = new WorkerStack();}): it is
 * started before the class's tests and closed after them.
 */
final class WorkerStack implements BeforeAllCallback, AfterAllCallback {

    /** A small prepare group, so that 20 edits in batches of 1 make several groups and a restart lands inside one. */
    static final int GROUP_SIZE = 8;
    static final long SEED = 1;
    /** Targets computed ahead on the worker's second thread: the tests check its bits do not depend on timing. */
    static final int PREPARE_AHEAD = 2;

    private EmbeddedStack stack;
    private SerdeSettings serdes;

    @Override
    public void beforeAll(ExtensionContext context) {
        // two partitions of edit-requests: models share partitions or not, as their keys hash
        stack = EmbeddedStack.start(Map.of(Topics.CORRECTIONS, 2, Topics.CORRECTIONS_DLQ, 1,
                Topics.EDIT_REQUESTS, 2, Topics.CHECKPOINTS, 1, Topics.EVALUATIONS, 1));
        serdes = SerdeSettings.apicurio(stack.registry().apiUrl());
    }

    String bootstrap() {
        return stack.kafka().bootstrapServers();
    }

    SerdeSettings serdes() {
        return serdes;
    }

    /**
     * stories260K under each model id: its editor is set up in about a second and edits in a fraction of one, so the
     * tests of faults (kills, fencing, gaps, broker restarts) run on it. Evaluation sample sizes are kept small: the
     * tests check the events, not the measures.
     */
    static WorkerSettings settings(List<String> modelIds, long prepareWaitMs) {
        return settings(modelIds, prepareWaitMs, "it-worker");
    }

    /** @param groupId the consumer group; the transactional ids are the same in every group */
    static WorkerSettings settings(List<String> modelIds, long prepareWaitMs, String groupId) {
        Path shared = SharedData.root();
        WorkerSettings.ModelSettings stories = new WorkerSettings.ModelSettings(
                shared.resolve("models/stories260K").toString(), "nse+prune", "llama2c-stories", "cpu",
                new WorkerSettings.C0(WorkerSettings.SAMPLED_STORIES, 0),
                shared.resolve("models/stories260K/greedy-reference.txt").toString(),
                SampledCorpus.STORY_OPENINGS, SEED, GROUP_SIZE, PREPARE_AHEAD, new EvaluationSettings(4, 64, 4, 4));
        return new WorkerSettings(groupId, "it-worker", prepareWaitMs, 5, 0,
                modelIds.stream().collect(java.util.stream.Collectors.toMap(id -> id, id -> stories)));
    }

    /**
     * The testbed with NSE and PRUNE under each model id, edited as {@code testbed-quick} says (the testbed's tuned
     * hyperparameters on one of its two edit layers, with a quarter of the target steps: a CI-sized run), with C0 from 4,096
     * keys of CounterFact train-split facts and held-out text from other train-split facts. Its store is {@link
     * #testbedStore}: the testbed's C0 and editor setup (a 10,240-square float64 inverse, a minute or more on two cores) are
     * computed by the first test that needs them and read back by the others.
     */
    static WorkerSettings testbedSettings(List<String> modelIds, long prepareWaitMs, String groupId) throws IOException {
        Path texts = Files.createDirectories(Path.of("target", "testbed-texts"));
        List<CounterFactRecord> train = CounterFactReader.read(SharedData.resolve("data/counterfact/counterfact-train.json"));
        Path c0 = write(texts.resolve("c0.txt"), train.subList(0, 1500));
        Path heldOut = write(texts.resolve("held-out.txt"), train.subList(1500, 1600));
        WorkerSettings.ModelSettings testbed = new WorkerSettings.ModelSettings(CommittedTestbed.path().toString(), "nse+prune",
                "testbed-quick", "cpu", new WorkerSettings.C0(c0.toString(), 4096), heldOut.toString(),
                train.subList(1600, 1608).stream().map(CounterFactRecord::prompt).toList(), SEED, GROUP_SIZE, PREPARE_AHEAD,
                new EvaluationSettings(4, 128, 4, 4));
        return new WorkerSettings(groupId, "it-worker", prepareWaitMs, 10, 0,
                modelIds.stream().collect(java.util.stream.Collectors.toMap(id -> id, id -> testbed)));
    }

    private static Path write(Path file, List<CounterFactRecord> facts) throws IOException {
        String text = facts.stream().map(fact -> fact.prompt() + " " + fact.groundTruth()).collect(java.util.stream.Collectors.joining("\n"));
        // the same bytes every time: C0's stored name hashes them
        if (!Files.exists(file) || !Files.readString(file).equals(text)) {
            Files.writeString(file, text);
        }
        return file;
    }

    /** One store for every testbed test of the build, so that the testbed's C0 and editor setup are computed once. */
    static CheckpointStore testbedStore() throws IOException {
        return openStore(Path.of("target", "testbed-store"));
    }

    /** Stops the broker and starts it again on the same log directory and address. */
    void restartBroker() {
        stack.kafka().restart();
    }

    /**
     * A worker on the test's batches, which are all on the broker before it starts: a prepare group that is still
     * incomplete after two seconds is the last one and never completes, so it is cut then (as the offline run's is).
     */
    EditorWorker startWorker(CheckpointStore store, List<String> modelIds) throws IOException {
        return startWorker(store, modelIds, "it-worker");
    }

    EditorWorker startWorker(CheckpointStore store, List<String> modelIds, String groupId) throws IOException {
        return EditorWorker.start(bootstrap(), serdes, store, settings(modelIds, 2_000, groupId), modelIds);
    }

    static CheckpointStore openStore(Path dir) throws IOException {
        return new CheckpointStore(ObjectStores.open(dir.toString()), 5);
    }

    void send(List<EditBatch> batches) {
        Properties properties = new Properties();
        properties.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        properties.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        try (KafkaProducer<String, EditBatch> producer = new KafkaProducer<>(properties, new StringSerializer(),
                serdes.valueSerde(EditBatch.class).serializer())) {
            for (EditBatch batch : batches) {
                producer.send(new ProducerRecord<>(Topics.EDIT_REQUESTS, batch.getModelId(), batch));
            }
            producer.flush();
        }
    }

    /**
     * Reads a topic from the start with read_committed until {@code done} holds, then half a second more (so a duplicate
     * behind the last expected record is seen); fails the test naming the topic when the timeout passes first.
     */
    <T extends SpecificRecord> List<T> readUntil(String topic, Class<T> type, Predicate<List<T>> done, Duration timeout) {
        Properties properties = new Properties();
        properties.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        properties.put(ConsumerConfig.GROUP_ID_CONFIG, "it-reader-" + UUID.randomUUID());
        properties.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        properties.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        properties.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<T> values = new ArrayList<>();
        try (KafkaConsumer<String, T> consumer = new KafkaConsumer<>(properties, new StringDeserializer(),
                serdes.valueSerde(type).deserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + timeout.toNanos();
            long settleUntil = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(deadline, settleUntil)) {
                for (ConsumerRecord<String, T> record : consumer.poll(Duration.ofMillis(200))) {
                    values.add(record.value());
                }
                if (settleUntil == Long.MAX_VALUE && done.test(values)) {
                    settleUntil = System.nanoTime() + Duration.ofMillis(500).toNanos();
                }
            }
            if (settleUntil == Long.MAX_VALUE) {
                fail("waited " + timeout.toSeconds() + " s for " + topic + " to reach what the test expects; " + values.size()
                        + " records read");
            }
        }
        return values;
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (stack != null) {
            stack.close();
            stack = null;
        }
    }
}

package io.editstream.worker;

import ai.djl.Device;
import io.editstream.checkpoint.BaseModel;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.checkpoint.TensorChange;
import io.editstream.checkpoint.WriteMode;
import io.editstream.edit.EditHyperparameters;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.Topics;
import io.editstream.model.LanguageModel;
import io.editstream.model.SharedData;
import io.editstream.model.format.ModelLoader;
import io.editstream.tensor.FloatMatrix;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Writes versions of stories260K as the worker does, without editing: random low-rank changes of its real edit-layer
 * tensors appended through {@link ModelHead} (blobs, snapshots every K, manifest), and their {@code CheckpointPublished}
 * events in Kafka transactions. Fifty versions cost a second instead of fifty edits.
 */
final class VersionWriter implements AutoCloseable {

    static final Path STORIES = SharedData.resolve("models/stories260K");
    private static final Manifest.EditorInfo EDITOR = new Manifest.EditorInfo("random-low-rank", "0".repeat(64), null);

    private final CheckpointStore store;
    private final String modelId;
    private final ModelHead head;
    private final KafkaProducer<String, CheckpointPublished> producer;
    private final Random random;
    private final double scale;
    private final Map<Long, Manifest> written = new HashMap<>();

    /**
     * @param scale the factors' standard deviation: 0.3 changes a greedy continuation of stories260K most versions
     */
    VersionWriter(WorkerStack stack, CheckpointStore store, String modelId, long seed, double scale) throws IOException {
        this.store = store;
        this.modelId = modelId;
        this.random = new Random(seed);
        this.scale = scale;
        try (LanguageModel model = ModelLoader.load(STORIES, Device.cpu())) {
            ModelCheckpoints.registerBase(store, modelId, model, STORIES.toString(),
                    EditHyperparameters.load("llama2c-stories").layerArray());
        }
        this.head = store.head(modelId);
        Properties properties = new Properties();
        properties.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap());
        properties.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "it-version-writer-" + modelId);
        this.producer = new KafkaProducer<>(properties, new StringSerializer(), stack.serdes().valueSerde(CheckpointPublished.class).serializer());
        producer.initTransactions();
    }

    BaseModel base() {
        return head.base();
    }

    /** Stores the next version (a rank-2 change of every editable tensor) without publishing it. */
    Manifest append() throws IOException {
        SortedMap<String, TensorChange> changes = new TreeMap<>();
        for (String name : head.base().stored().keySet()) {
            int[] shape = head.base().matrixShape(name);
            changes.put(name, TensorChange.lowRank(gaussian(shape[0], 2), gaussian(shape[1], 2), false));
        }
        long version = head.version() + 1;
        Manifest manifest = head.append(new Manifest.SequenceRange(version, version), EDITOR, changes, null, WriteMode.CREATE);
        written.put(version, manifest);
        return manifest;
    }

    /** Publishes the versions' events in one transaction. */
    void publish(List<Manifest> versions) {
        producer.beginTransaction();
        for (Manifest manifest : versions) {
            producer.send(new ProducerRecord<>(Topics.CHECKPOINTS, modelId, event(manifest)));
        }
        producer.commitTransaction();
    }

    /** Appends and publishes {@code count} versions, in transactions of one to three. */
    void write(int count) throws IOException {
        int left = count;
        while (left > 0) {
            int batch = Math.min(left, 1 + random.nextInt(3));
            List<Manifest> versions = new java.util.ArrayList<>();
            for (int i = 0; i < batch; i++) {
                versions.add(append());
            }
            publish(versions);
            left -= batch;
        }
    }

    /** Publishes an event as the worker would, whatever the store holds. */
    void publish(CheckpointPublished event) {
        producer.beginTransaction();
        producer.send(new ProducerRecord<>(Topics.CHECKPOINTS, modelId, event));
        producer.commitTransaction();
    }

    CheckpointPublished event(Manifest manifest) {
        return CheckpointPublished.newBuilder()
                .setModelId(modelId)
                .setVersion(manifest.version())
                .setParentVersion(manifest.parentVersion())
                .setBaseModelSha256(manifest.baseSha256())
                .setFirstSequence(manifest.sequence().first())
                .setLastSequence(manifest.sequence().last())
                .setManifestUri(store.manifestUri(modelId, manifest.version()))
                .setTensorHashes(new TreeMap<>(manifest.tensorSha256()))
                .setRestraint(null)
                .setPublishedAt(Instant.now())
                .build();
    }

    long version() {
        return head.version();
    }

    /** The tensor hashes of a version this writer wrote. */
    SortedMap<String, String> hashes(long version) {
        return written.get(version).tensorSha256();
    }

    Manifest manifest(long version) {
        return written.get(version);
    }

    private FloatMatrix gaussian(int rows, int cols) {
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * scale);
        }
        return new FloatMatrix(rows, cols, values);
    }

    @Override
    public void close() {
        producer.close();
    }
}

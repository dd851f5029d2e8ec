package io.editstream.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.editstream.checkpoint.BaseModel;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Delta;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.checkpoint.StoreKeys;
import io.editstream.checkpoint.TensorChange;
import io.editstream.checkpoint.WriteMode;
import io.editstream.checkpoint.objects.ObjectStore;
import io.editstream.edit.EditHyperparameters;
import io.editstream.edit.EditRequest;
import io.editstream.edit.Editor;
import io.editstream.edit.SecondMomentStats;
import io.editstream.model.LanguageModel;
import io.editstream.tensor.FloatMatrix;
import io.editstream.worker.ModelCheckpoints;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What checkpoints cost: the bytes of real edits' LOW_RANK versions against the dense tensors they change, and on
 * each backend the time to write and read a version and to materialise a long chain from the base or from its latest
 * snapshot.
 */
final class CheckpointBenchmark {

    private static final Logger log = LoggerFactory.getLogger(CheckpointBenchmark.class);
    private static final String MODEL = "bench";
    private static final Manifest.EditorInfo EDITOR = new Manifest.EditorInfo("nse", "0".repeat(64), null);

    /** Bytes of the versions real edits wrote at one batch size. */
    record EditBytes(int batch, int edits, int versions, double bytesPerEdit, double denseBytesPerVersion,
                     double denseBytesPerEdit, List<Integer> ranks, double secondsPerEdit) {
    }

    /** One backend's timings over a chain of {@code versions}. */
    record ChainTimes(String backend, int versions, int snapshotEvery, double writeMsMean, double writeMsP50, double writeMsP99,
                      double readMsMean, double readMsP50, double readMsP99, double materialiseFromBaseMs,
                      double materialiseFromSnapshotMs, long storedBytes) {
    }

    record Result(String model, List<Integer> editLayers, List<EditBytes> edits, List<ChainTimes> chains) {
    }

    private CheckpointBenchmark() {
    }

    /**
     * Real NSE edits of {@code cases} at batch 1 (the first {@code edits}) then at batch 10 (the next {@code edits}),
     * each batch one version in a store under {@code work}.
     */
    static List<EditBytes> editBytes(LanguageModel model, NDManager manager, EditHyperparameters hyperparameters,
                                     String c0Text, int c0Samples, List<EditRequest> cases, int edits, CheckpointStore store)
            throws IOException {
        int[] layers = hyperparameters.layerArray();
        Map<Integer, FloatMatrix> c0 = SecondMomentStats.compute(manager, model, layers, c0Text, c0Samples, 64);
        ModelCheckpoints.registerBase(store, MODEL, model, "bench", layers);
        ModelHead head = store.head(MODEL);
        List<EditBytes> result = new ArrayList<>();
        long denseBytes = 0;
        for (int layer : layers) {
            int[] shape = head.base().matrixShape(model.mlpOutputName(layer));
            denseBytes += 4L * shape[0] * shape[1];
        }
        try (Editor editor = Editor.create("nse", model, hyperparameters, c0, manager, 1)) {
            int next = 0;
            for (int batch : new int[] {1, 10}) {
                long bytes = 0;
                int versions = 0;
                List<Integer> ranks = new ArrayList<>();
                long started = System.nanoTime();
                for (int done = 0; done < edits; done += batch) {
                    List<EditRequest> requests = cases.subList(next, next + batch);
                    next += batch;
                    SortedMap<String, TensorChange> changes = ModelCheckpoints.changes(model, editor.apply(requests).deltas());
                    Manifest manifest = head.append(new Manifest.SequenceRange(next - batch + 1, next), EDITOR, changes, null, WriteMode.CREATE);
                    ModelCheckpoints.load(model, head, layers);
                    bytes += versionBytes(store, manifest);
                    manifest.deltas().values().forEach(delta -> ranks.add(delta.rank()));
                    versions++;
                }
                double seconds = (System.nanoTime() - started) / 1e9;
                result.add(new EditBytes(batch, edits, versions, (double) bytes / edits, denseBytes, (double) denseBytes / batch, ranks,
                        seconds / edits));
                log.info("batch {}: {} bytes per edit, {} per version of the dense tensors", batch, bytes / edits, denseBytes);
            }
        }
        return result;
    }

    /** The manifest and the blobs of its deltas: what one version adds to the store (snapshots aside). */
    private static long versionBytes(CheckpointStore store, Manifest manifest) throws IOException {
        long bytes = store.objects().get(StoreKeys.manifest(manifest.modelId(), manifest.version())).orElseThrow().length;
        for (Delta delta : manifest.deltas().values()) {
            bytes += store.objects().get(StoreKeys.blob(delta.blob())).orElseThrow().length;
        }
        return bytes;
    }

    /**
     * A chain of {@code versions} LOW_RANK versions over the given base tensors, with the ranks real edits had (cycled)
     * and seeded random factors, written to a fresh store and read back version by version.
     */
    static ChainTimes chain(String backend, Supplier<ObjectStore> objects, SortedMap<String, FloatMatrix> base,
                            List<Integer> ranks, int versions, int snapshotEvery) throws IOException {
        Random random = new Random(17);
        try (CheckpointStore store = new CheckpointStore(objects.get(), snapshotEvery)) {
            SortedMap<String, BaseModel.TensorInfo> infos = new TreeMap<>();
            base.forEach((name, w) -> infos.put(name, new BaseModel.TensorInfo(List.of((long) w.rows(), (long) w.cols()), w.sha256())));
            store.registerBase(MODEL, "0".repeat(64), "bench", infos, base);
            ModelHead head = store.head(MODEL);
            double[] write = new double[versions];
            long lastLog = System.nanoTime();
            for (int v = 1; v <= versions; v++) {
                SortedMap<String, TensorChange> changes = new TreeMap<>();
                int i = 0;
                for (Map.Entry<String, FloatMatrix> tensor : base.entrySet()) {
                    int rank = ranks.get((v * base.size() + i++) % ranks.size());
                    changes.put(tensor.getKey(), TensorChange.lowRank(random(random, tensor.getValue().rows(), rank),
                            random(random, tensor.getValue().cols(), rank), false));
                }
                long started = System.nanoTime();
                head.append(new Manifest.SequenceRange(v, v), EDITOR, changes, null, WriteMode.CREATE);
                write[v - 1] = (System.nanoTime() - started) / 1e6;
                if (System.nanoTime() - lastLog > 10_000_000_000L) {
                    log.info("{}: wrote {} / {} versions", backend, v, versions);
                    lastLog = System.nanoTime();
                }
            }
            double[] read = new double[versions];
            ModelHead reader = store.head(MODEL);
            for (int v = 1; v <= versions; v++) {
                long started = System.nanoTime();
                reader.advanceTo(v);
                read[v - 1] = (System.nanoTime() - started) / 1e6;
            }
            long started = System.nanoTime();
            store.materialise(MODEL, versions, CheckpointStore.Start.BASE);
            double fromBase = (System.nanoTime() - started) / 1e6;
            started = System.nanoTime();
            store.materialise(MODEL, versions, CheckpointStore.Start.NEAREST);
            double fromSnapshot = (System.nanoTime() - started) / 1e6;
            long storedBytes = store.objects().list("").stream().mapToLong(ObjectStore.StoredObject::size).sum();
            ChainTimes times = new ChainTimes(backend, versions, snapshotEvery, mean(write), percentile(write, 50), percentile(write, 99),
                    mean(read), percentile(read, 50), percentile(read, 99), fromBase, fromSnapshot, storedBytes);
            log.info("{}", times);
            return times;
        }
    }

    private static FloatMatrix random(Random random, int rows, int cols) {
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (1e-3 * random.nextGaussian());
        }
        return new FloatMatrix(rows, cols, values);
    }

    private static double mean(double[] values) {
        return Arrays.stream(values).average().orElse(Double.NaN);
    }

    private static double percentile(double[] values, int percent) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(percent / 100.0 * sorted.length) - 1)];
    }

    static String table(Result result) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "checkpoints of %s, edit layers %s%n", result.model(), result.editLayers()));
        out.append(String.format(Locale.ROOT, "%-6s %8s %14s %16s %8s %12s %s%n", "batch", "versions", "bytes/edit", "dense bytes/edit",
                "ratio", "s/edit", "ranks"));
        for (EditBytes e : result.edits()) {
            out.append(String.format(Locale.ROOT, "%-6d %8d %14.0f %16.0f %8.4f %12.3f %s%n", e.batch(), e.versions(), e.bytesPerEdit(),
                    e.denseBytesPerEdit(), e.bytesPerEdit() / e.denseBytesPerEdit(), e.secondsPerEdit(), e.ranks()));
        }
        out.append(String.format(Locale.ROOT, "%-8s %8s %22s %22s %14s %14s %10s%n", "backend", "versions", "write ms mean/p50/p99",
                "read ms mean/p50/p99", "from base ms", "from snap ms", "MB stored"));
        for (ChainTimes c : result.chains()) {
            out.append(String.format(Locale.ROOT, "%-8s %8d %8.1f/%5.1f/%6.1f %8.1f/%5.1f/%6.1f %14.0f %14.0f %10.1f%n", c.backend(),
                    c.versions(), c.writeMsMean(), c.writeMsP50(), c.writeMsP99(), c.readMsMean(), c.readMsP50(), c.readMsP99(),
                    c.materialiseFromBaseMs(), c.materialiseFromSnapshotMs(), c.storedBytes() / 1e6));
        }
        return out.toString();
    }

    static void writeJson(Result result, Path file) throws IOException {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("model", result.model());
        json.put("edit_layers", result.editLayers());
        json.put("edits", result.edits());
        json.put("chains", result.chains());
        new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), json);
    }
}

package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.checkpoint.AccumulatedChange;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Delta;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.checkpoint.TensorChange;
import io.editstream.checkpoint.WriteMode;
import io.editstream.checkpoint.objects.FileSystemObjectStore;
import io.editstream.edit.EditHyperparameters;
import io.editstream.edit.EditRequest;
import io.editstream.edit.Editor;
import io.editstream.edit.LowRankDelta;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.model.LanguageModel;
import io.editstream.model.SharedData;
import io.editstream.model.format.ModelLoader;
import io.editstream.tensor.FloatMatrix;
import io.editstream.train.CommittedTestbed;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 50-version chain of real NSE edits of the committed testbed (LOW_RANK versions, a snapshot every 10, one REBASE)
 * materialises, from the base and from the nearest snapshot, to exactly the bits the editing model held in memory.
 */
class TestbedCheckpointChainTest {

    /** A new model id in every run: the shared testbed store keeps the C0 each model id was pinned to. */
    private static final String MODEL = "testbed-chain-" + Long.toString(System.currentTimeMillis(), 36);
    private static final int VERSIONS = 50;
    private static final int REBASE_AT = 25;

    @TempDir
    Path dir;

    @Test
    void everyVersionMaterialisesToTheBitsTheEditorHeld() throws Exception {
        List<CounterFactRecord> train = CounterFactReader.read(SharedData.resolve("data/counterfact/counterfact-train.json"));
        // the worker tests' testbed: its C0 and editor setup come from (or go to) the store they share
        WorkerSettings.ModelSettings settings = WorkerStack.testbedSettings(List.of(MODEL), 0, "unused").models().get(MODEL);
        EditHyperparameters hyperparameters = EditHyperparameters.load(settings.hyperparameters());
        int[] layers = hyperparameters.layerArray();
        try (LanguageModel model = ModelLoader.load(CommittedTestbed.path(), Device.cpu());
             NDManager manager = NDManager.newBaseManager(Device.cpu());
             CheckpointStore shared = WorkerStack.testbedStore();
             CheckpointStore store = new CheckpointStore(new FileSystemObjectStore(dir.resolve("store")), 10)) {
            String c0 = StoredSecondMoments.locateOrCompute(shared, MODEL, model, manager, layers,
                    settings.c0().samples(), () -> read(Path.of(settings.c0().corpus())));
            var setup = StoredEditorSetup.loadOrCompute(shared, MODEL, "nse", hyperparameters,
                    ModelRuntime.hyperparametersSha256(hyperparameters), c0, model.config().mlpDim(), manager);
            ModelCheckpoints.registerBase(store, MODEL, model, CommittedTestbed.path().toString(), layers);
            ModelHead head = store.head(MODEL);
            Manifest.EditorInfo editorInfo = new Manifest.EditorInfo("nse", "0".repeat(64), null);

            List<SortedMap<String, FloatMatrix>> held = new ArrayList<>();
            try (Editor editor = Editor.create("nse", model, hyperparameters, setup, manager, 1)) {
                for (int v = 1; v <= VERSIONS; v++) {
                    SortedMap<String, TensorChange> changes = new TreeMap<>();
                    if (v == REBASE_AT) {
                        for (int layer : layers) {
                            String name = model.mlpOutputName(layer);
                            AccumulatedChange.Factors sinceBase = (AccumulatedChange.Factors) store.changeFromBase(MODEL, v - 1, name);
                            changes.put(name, TensorChange.rebase(sinceBase.a(), sinceBase.b(), false));
                        }
                    } else {
                        EditRequest request = train.get(v).toEditRequest();
                        List<LowRankDelta> deltas = editor.apply(List.of(request)).deltas();
                        for (LowRankDelta delta : deltas) {
                            assertTrue(finite(delta.a()) && finite(delta.b()), "a real edit's factors are finite");
                        }
                        changes.putAll(ModelCheckpoints.changes(model, deltas));
                    }
                    head.append(new Manifest.SequenceRange(v, v), editorInfo, changes, null, WriteMode.CREATE);
                    // the model continues from the bits the version means, as the worker does after every batch
                    ModelCheckpoints.load(model, head, layers);
                    SortedMap<String, FloatMatrix> now = new TreeMap<>();
                    for (int layer : layers) {
                        try (NDManager scope = manager.newSubManager()) {
                            now.put(model.mlpOutputName(layer), FloatMatrix.of(model.mlpOutputWeight(scope, layer)));
                        }
                    }
                    held.add(now);
                }
            }

            Manifest rebase = store.manifest(MODEL, REBASE_AT).orElseThrow();
            assertTrue(rebase.deltas().values().stream().allMatch(d -> d.kind() == Delta.Kind.REBASE), rebase.toString());
            assertEquals(held.get(9).keySet(), store.manifest(MODEL, 10).orElseThrow().snapshots().keySet());
            for (int v = 1; v <= VERSIONS; v++) {
                for (CheckpointStore.Start start : CheckpointStore.Start.values()) {
                    assertEquals(held.get(v - 1), store.materialise(MODEL, v, start).tensors(), "version " + v + " from " + start);
                }
            }
            assertTrue(store.verify(MODEL).stream().allMatch(CheckpointStore.VersionCheck::ok));
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static boolean finite(FloatMatrix m) {
        for (float value : m.data()) {
            if (!Float.isFinite(value)) {
                return false;
            }
        }
        return true;
    }
}

package io.editstream.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.checkpoint.objects.FileSystemObjectStore;
import io.editstream.edit.EditHyperparameters;
import io.editstream.edit.EditRequest;
import io.editstream.edit.Editor;
import io.editstream.edit.LowRankDelta;
import io.editstream.edit.SecondMomentStats;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.model.LanguageModel;
import io.editstream.model.SharedData;
import io.editstream.model.format.ModelLoader;
import io.editstream.tensor.FloatMatrix;
import io.editstream.worker.ModelCheckpoints;
import io.editstream.train.CommittedTestbed;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 50-version chain of real NSE edits of the committed testbed (LOW_RANK versions, a snapshot every 10, one REBASE)
 * materialises, from the base and from the nearest snapshot, to exactly the bits the editing model held in memory.
 */
class TestbedCheckpointChainTest {

    private static final String MODEL = "testbed";
    private static final int VERSIONS = 50;
    private static final int REBASE_AT = 25;

    @TempDir
    Path dir;

    @Test
    void everyVersionMaterialisesToTheBitsTheEditorHeld() throws Exception {
        List<CounterFactRecord> train = CounterFactReader.read(SharedData.resolve("data/counterfact/counterfact-train.json"));
        // one edit layer of the testbed's two: setting up an editor inverts a 10,240-square system per layer
        EditHyperparameters testbed = EditHyperparameters.load("testbed");
        EditHyperparameters hyperparameters = new EditHyperparameters(testbed.description(), List.of(1), testbed.lambda(),
                testbed.target(), testbed.contextTemplates(), testbed.secondMoment(), testbed.nse(), testbed.alphaEdit(), testbed.prune());
        int[] layers = hyperparameters.layerArray();
        try (LanguageModel model = ModelLoader.load(CommittedTestbed.path(), Device.cpu());
             NDManager manager = NDManager.newBaseManager(Device.cpu());
             CheckpointStore store = new CheckpointStore(new FileSystemObjectStore(dir.resolve("store")), 10)) {
            // C0 from facts the chain does not edit: enough keys for a well-posed solve, a test's worth of time
            String corpus = train.subList(500, 800).stream().map(c -> c.prompt() + " " + c.groundTruth())
                    .collect(Collectors.joining("\n"));
            Map<Integer, FloatMatrix> c0 = SecondMomentStats.compute(manager, model, layers, corpus, 2_000, 32);
            ModelCheckpoints.registerBase(store, MODEL, model, CommittedTestbed.path().toString(), layers);
            ModelHead head = store.head(MODEL);
            Manifest.EditorInfo editorInfo = new Manifest.EditorInfo("nse", "0".repeat(64), null);

            List<SortedMap<String, FloatMatrix>> held = new ArrayList<>();
            try (Editor editor = Editor.create("nse", model, hyperparameters, c0, manager, 1)) {
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

    private static boolean finite(FloatMatrix m) {
        for (float value : m.data()) {
            if (!Float.isFinite(value)) {
                return false;
            }
        }
        return true;
    }
}

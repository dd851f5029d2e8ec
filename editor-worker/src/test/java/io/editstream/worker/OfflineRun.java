package io.editstream.worker;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.checkpoint.WriteMode;
import io.editstream.edit.EditHyperparameters;
import io.editstream.edit.Editor;
import io.editstream.events.EditBatch;
import io.editstream.model.LanguageModel;
import io.editstream.model.format.ModelLoader;
import io.editstream.tensor.FloatMatrix;
import io.editstream.tensor.Sha256;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The same editor on the same requests without Kafka: prepare groups of whole grid groups (sequences g·G+1 ..
 * (g+1)·G), each batch applied, appended to a store of its own and its version loaded back into the model, as the
 * worker does. What a fault-free worker must reproduce bit for bit.
 */
final class OfflineRun {

    private OfflineRun() {
    }

    /**
     * @param workerStore where the worker stored the model's C0 (read from there: the same C0, bit for bit)
     * @return the edited tensors after the last batch
     */
    static SortedMap<String, FloatMatrix> run(CheckpointStore workerStore, String modelId, WorkerSettings.ModelSettings settings,
                                              List<EditBatch> batches, Path dir) throws IOException {
        EditHyperparameters hyperparameters = EditHyperparameters.load(settings.hyperparameters());
        int[] layers = hyperparameters.layerArray();
        String c0Blob = workerStore.ref(modelId, StoredSecondMoments.REF).orElseThrow();
        List<io.editstream.events.EditRequest> all = batches.stream().flatMap(batch -> batch.getEdits().stream()).toList();
        try (CheckpointStore store = WorkerStack.openStore(dir);
             LanguageModel model = ModelLoader.load(Path.of(settings.path()), Device.cpu());
             LanguageModel baseCopy = ModelLoader.load(Path.of(settings.path()), Device.cpu());
             NDManager manager = NDManager.newBaseManager(Device.cpu());
             // the setup as the worker stored it (what EditorSetupTest shows equal to computing it): inverting the
             // testbed's systems again would take minutes
             Editor editor = Editor.create(settings.editor(), model, hyperparameters,
                     StoredEditorSetup.loadOrCompute(workerStore, modelId, settings.editor(), hyperparameters,
                             ModelRuntime.hyperparametersSha256(hyperparameters), c0Blob, model.config().mlpDim(), manager),
                     manager, settings.seed())) {
            ModelCheckpoints.registerBase(store, modelId, model, settings.path(), layers);
            ModelHead head = store.head(modelId);
            Manifest.EditorInfo info = new Manifest.EditorInfo(settings.editor(), Sha256.of(new byte[0]), null);
            long preparedThrough = 0;
            for (EditBatch batch : batches) {
                while (preparedThrough < batch.getLastSequence()) {
                    long end = preparedThrough + settings.prepareGroupSize();
                    long from = preparedThrough;
                    List<io.editstream.edit.EditRequest> group = all.stream()
                            .filter(r -> r.getSequence() > from && r.getSequence() <= end).map(OfflineRun::engine).toList();
                    // as the worker does: through a preparer on a copy of the base wherever the editor offers one
                    if (editor.preparesTargetsFromBase()) {
                        editor.prepare(editor.targetPreparer(baseCopy).orElseThrow().prepare(group));
                    } else {
                        editor.prepare(group);
                    }
                    preparedThrough = end;
                }
                Editor.EditResult result = editor.apply(batch.getEdits().stream().map(OfflineRun::engine).toList());
                head.append(new Manifest.SequenceRange(batch.getFirstSequence(), batch.getLastSequence()), info,
                        ModelCheckpoints.changes(model, result.deltas()), result.state().encode(), WriteMode.REPLACE_UNCOMMITTED);
                ModelCheckpoints.load(model, head, layers);
            }
            return new TreeMap<>(head.tensors());
        }
    }

    private static io.editstream.edit.EditRequest engine(io.editstream.events.EditRequest request) {
        return io.editstream.edit.EditRequest.of(request.getPromptTemplate(), request.getSubject(), request.getTargetNew(),
                request.getTargetTrue());
    }
}

package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.edit.EditHyperparameters;
import io.editstream.events.EditBatch;
import io.editstream.tensor.FloatMatrix;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;

/**
 * The same editor on the same batches without Kafka ({@link AuditReplay}): every version written again and its tensor
 * hashes compared with the worker's. What a fault-free worker must reproduce bit for bit.
 */
final class OfflineRun {

    private OfflineRun() {
    }

    /**
     * @param workerStore where the worker stored the model's versions, C0 and recorded editor
     * @param settings    the worker's settings of the model: the recorded editor must be theirs
     * @param batches     one per version, in order
     * @return the edited tensors after the last batch, as written again
     */
    static SortedMap<String, FloatMatrix> run(CheckpointStore workerStore, String modelId, WorkerSettings.ModelSettings settings,
                                              List<EditBatch> batches, Path dir) throws IOException {
        assertEquals(RecordedEditor.of(settings, EditHyperparameters.load(settings.hyperparameters())),
                RecordedEditor.read(workerStore, modelId).orElseThrow(), "the editor the worker recorded");
        AuditReplay.Outcome outcome = AuditReplay.replay(workerStore, modelId, batches, batches.size(), Optional.of(Path.of(settings.path())),
                dir, version -> { });
        assertEquals(new AuditReplay.Reproduced(batches.size()), outcome, "every version written again from the batches");
        return AuditReplay.tensorsAfter(dir, modelId, batches.size());
    }
}

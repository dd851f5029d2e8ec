package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.EditBatch;
import io.editstream.events.EditEvaluation;
import io.editstream.events.EditOutcome;
import io.editstream.events.EvaluationScope;
import io.editstream.events.Topics;
import io.editstream.tensor.FloatMatrix;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker on a real broker and registry: 20 edits in batches of 1 for one model id and in batches of 5 for another
 * become gap-free chains of versions, each published once with its evaluations, and the final weights are bit for bit
 * those of the same editor run offline on the same batches.
 */
class EditorWorkerIT {

    private static final String SINGLES = "stories-b1";
    private static final String FIVES = "stories-b5";
    private static final int EDITS = 20;

    @RegisterExtension
    static final WorkerStack stack = new WorkerStack();

    @TempDir
    Path dir;

    @Test
    void publishesEveryBatchOnceAsTheNextVersionBitForBitAsAnOfflineRun() throws Exception {
        List<EditBatch> singles = StoryEdits.batches(SINGLES, StoryEdits.requests(EDITS), 1);
        List<EditBatch> fives = StoryEdits.batches(FIVES, StoryEdits.requests(EDITS), 5);
        stack.send(singles);
        stack.send(fives);
        List<String> models = List.of(SINGLES, FIVES);
        try (CheckpointStore store = WorkerStack.openStore(dir.resolve("store"))) {
            List<CheckpointPublished> checkpoints;
            try (EditorWorker worker = stack.startWorker(store, models)) {
                checkpoints = stack.readUntil(Topics.CHECKPOINTS, CheckpointPublished.class,
                        all -> lastVersion(all, SINGLES) == singles.size() && lastVersion(all, FIVES) == fives.size(), Duration.ofMinutes(3));
                assertEquals(Map.of(), worker.stoppedModels());
            }
            List<EditEvaluation> evaluations = stack.readUntil(Topics.EVALUATIONS, EditEvaluation.class,
                    all -> all.size() >= 2 * EDITS + singles.size() + fives.size(), Duration.ofSeconds(30));

            for (String model : models) {
                List<EditBatch> batches = model.equals(SINGLES) ? singles : fives;
                assertChain(checkpoints, model, batches);
                assertEvaluations(evaluations, model, batches.size());
                SortedMap<String, FloatMatrix> published = new TreeMap<>(
                        store.materialise(model, batches.size(), CheckpointStore.Start.BASE).tensors());
                SortedMap<String, FloatMatrix> offline = OfflineRun.run(store, model,
                        WorkerStack.settings(models, 0).models().get(model), batches, dir.resolve("offline-" + model));
                assertEquals(offline.keySet(), published.keySet());
                offline.forEach((name, tensor) -> assertEquals(tensor.sha256(), published.get(name).sha256(),
                        model + " " + name + ": the worker's version is bit for bit the offline editor's"));
            }
        }
    }

    /** Versions 1..n, each once, each the child of the one before, their sequence ranges the batches'. */
    static void assertChain(List<CheckpointPublished> checkpoints, String model, List<EditBatch> batches) {
        List<CheckpointPublished> chain = checkpoints.stream().filter(c -> c.getModelId().equals(model))
                .sorted(Comparator.comparingLong(CheckpointPublished::getVersion)).toList();
        assertEquals(LongStream.rangeClosed(1, batches.size()).boxed().toList(), chain.stream().map(CheckpointPublished::getVersion).toList(),
                model + ": every version published exactly once");
        for (int i = 0; i < chain.size(); i++) {
            CheckpointPublished version = chain.get(i);
            assertEquals(i == 0 ? null : Long.valueOf(i), version.getParentVersion());
            assertEquals(batches.get(i).getFirstSequence(), version.getFirstSequence());
            assertEquals(batches.get(i).getLastSequence(), version.getLastSequence());
            assertTrue(version.getManifestUri().endsWith(String.format("%020d.json", version.getVersion())), version.getManifestUri());
            assertEquals("PRUNE(alpha=e)", version.getRestraint());
            assertEquals(2, version.getTensorHashes().size(), "both edit layers' MLP output projections");
        }
    }

    /** One EDIT evaluation per sequence, all applied, and one CHECKPOINT evaluation per version. */
    static void assertEvaluations(List<EditEvaluation> evaluations, String model, int versions) {
        List<EditEvaluation> edits = evaluations.stream().filter(e -> e.getModelId().equals(model) && e.getScope() == EvaluationScope.EDIT)
                .sorted(Comparator.comparingLong(EditEvaluation::getSequence)).toList();
        assertEquals(LongStream.rangeClosed(1, EDITS).boxed().toList(), edits.stream().map(EditEvaluation::getSequence).toList());
        assertTrue(edits.stream().allMatch(e -> e.getOutcome() == EditOutcome.APPLIED && e.getEfficacy() != null), edits.toString());
        List<Long> versionsEvaluated = evaluations.stream()
                .filter(e -> e.getModelId().equals(model) && e.getScope() == EvaluationScope.CHECKPOINT)
                .map(EditEvaluation::getCheckpointVersion).sorted().toList();
        assertEquals(LongStream.rangeClosed(1, versions).boxed().toList(), versionsEvaluated);
    }

    static long lastVersion(List<CheckpointPublished> checkpoints, String model) {
        return checkpoints.stream().filter(c -> c.getModelId().equals(model)).mapToLong(CheckpointPublished::getVersion).max().orElse(0);
    }
}

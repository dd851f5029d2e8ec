package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.EditBatch;
import io.editstream.events.EditEvaluation;
import io.editstream.events.Topics;
import io.editstream.tensor.FloatMatrix;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker closed in the middle of the run and a new one started on the same store and broker: every sequence is
 * applied and published once, and the final weights are bit for bit those of a run that never stopped. The first
 * worker stops inside a prepare group, so the second must prepare that group exactly as the first did, the edits of
 * it already applied included, and restore the editor from the stored batch states instead of optimising again.
 */
class WorkerRestartIT {

    private static final String MODEL = "stories-restart";
    private static final int EDITS = 20;
    private static final long STOP_AFTER = 3;

    @RegisterExtension
    static final WorkerStack stack = new WorkerStack();

    @TempDir
    Path dir;

    @Test
    void aRestartedWorkerContinuesBitForBitAsIfItHadNeverStopped() throws Exception {
        List<EditBatch> batches = StoryEdits.batches(MODEL, StoryEdits.requests(EDITS), 1);
        stack.send(batches);
        List<String> models = List.of(MODEL);
        Path storeDir = dir.resolve("store");
        long stoppedAt;
        try (CheckpointStore store = WorkerStack.openStore(storeDir)) {
            EditorWorker first = stack.startWorker(store, models);
            try {
                long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
                while (first.lastApplied().getOrDefault(MODEL, 0L) < STOP_AFTER && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
            } finally {
                first.close(); // as on SIGTERM: the batch in progress commits, nothing after it starts
            }
            stoppedAt = first.lastApplied().get(MODEL);
        }
        assertTrue(stoppedAt >= STOP_AFTER && stoppedAt % WorkerStack.GROUP_SIZE != 0 && stoppedAt < EDITS,
                "the first worker stopped inside a prepare group, after sequence " + stoppedAt);

        try (CheckpointStore store = WorkerStack.openStore(storeDir)) {
            List<CheckpointPublished> checkpoints;
            try (EditorWorker second = stack.startWorker(store, models)) {
                checkpoints = stack.readUntil(Topics.CHECKPOINTS, CheckpointPublished.class,
                        all -> WorkerAssertions.lastVersion(all, MODEL) == EDITS, Duration.ofMinutes(2));
                assertEquals(Map.of(), second.stoppedModels());
            }
            List<EditEvaluation> evaluations = stack.readUntil(Topics.EVALUATIONS, EditEvaluation.class,
                    all -> all.size() >= 2 * EDITS, Duration.ofSeconds(30));
            WorkerAssertions.assertChain(checkpoints, MODEL, batches);
            WorkerAssertions.assertEvaluations(evaluations, MODEL, EDITS, batches.size());

            SortedMap<String, FloatMatrix> published = new TreeMap<>(store.materialise(MODEL, EDITS, CheckpointStore.Start.BASE).tensors());
            SortedMap<String, FloatMatrix> uninterrupted = OfflineRun.run(store, MODEL, WorkerStack.settings(models, 0).models().get(MODEL),
                    batches, dir.resolve("offline"));
            assertEquals(uninterrupted.keySet(), published.keySet());
            uninterrupted.forEach((name, tensor) -> assertEquals(tensor.sha256(), published.get(name).sha256(),
                    name + ": after the restart, bit for bit the run that never stopped"));
        }
    }
}

package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.EditBatch;
import io.editstream.events.EditEvaluation;
import io.editstream.events.Topics;
import io.editstream.tensor.FloatMatrix;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A zombie: a second worker with the same transactional ids starts while the first is still running and believes it
 * owns the partitions (it sits in another consumer group, so no rebalance tells it otherwise). The second one's
 * initTransactions fences the first, whose next commit fails, so no version is published twice, and the chain the
 * second one finishes is bit for bit the one no zombie ever touched.
 */
class WorkerFencingIT {

    private static final String MODEL = "stories-zombie";
    private static final int EDITS = 20;

    @RegisterExtension
    static final WorkerStack stack = new WorkerStack();

    @TempDir
    Path dir;

    @Test
    void aSecondWorkerWithTheSameTransactionalIdsFencesTheFirst() throws Exception {
        List<EditBatch> batches = StoryEdits.batches(MODEL, StoryEdits.requests(EDITS), 1);
        stack.send(batches);
        List<String> models = List.of(MODEL);
        try (CheckpointStore store = WorkerStack.openStore(dir.resolve("store"));
             EditorWorker zombie = stack.startWorker(store, models, "it-zombie")) {
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (zombie.lastApplied().getOrDefault(MODEL, 0L) < 3 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            List<CheckpointPublished> checkpoints;
            try (EditorWorker successor = stack.startWorker(store, models, "it-successor")) {
                checkpoints = stack.readUntil(Topics.CHECKPOINTS, CheckpointPublished.class,
                        all -> WorkerAssertions.lastVersion(all, MODEL) == EDITS, Duration.ofMinutes(2));
                assertEquals(EDITS, successor.lastApplied().get(MODEL));
            }
            long zombieReached = zombie.lastApplied().get(MODEL);
            List<EditEvaluation> evaluations = stack.readUntil(Topics.EVALUATIONS, EditEvaluation.class,
                    all -> all.size() >= 2 * EDITS, Duration.ofSeconds(30));
            WorkerAssertions.assertChain(checkpoints, MODEL, batches);
            WorkerAssertions.assertEvaluations(evaluations, MODEL, EDITS, batches.size());
            assertEquals(true, zombieReached < EDITS, "the zombie was fenced before the end (reached " + zombieReached + ")");

            SortedMap<String, FloatMatrix> published = new TreeMap<>(store.materialise(MODEL, EDITS, CheckpointStore.Start.BASE).tensors());
            SortedMap<String, FloatMatrix> offline = OfflineRun.run(store, MODEL, WorkerStack.settings(models, 0).models().get(MODEL),
                    batches, dir.resolve("offline"));
            offline.forEach((name, tensor) -> assertEquals(tensor.sha256(), published.get(name).sha256(), name));
        }
    }
}

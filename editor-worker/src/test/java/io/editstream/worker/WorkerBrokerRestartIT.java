package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.EditBatch;
import io.editstream.events.EditEvaluation;
import io.editstream.events.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker goes down mid-stream and comes back on the same log directory: the worker's open transaction fails or
 * is aborted, the worker restores the last committed version and goes on once the broker answers again. Every
 * sequence is applied once and the weights are bit for bit those of an uninterrupted run.
 */
class WorkerBrokerRestartIT {

    private static final String MODEL = "stories-broker-restart";
    private static final int EDITS = 40;
    private static final long RESTART_AFTER = 10;

    @RegisterExtension
    static final WorkerStack stack = new WorkerStack();

    @TempDir
    Path dir;

    @Test
    void aBrokerRestartMidStreamLosesAndDuplicatesNothing() throws Exception {
        List<EditBatch> batches = StoryEdits.batches(MODEL, StoryEdits.requests(EDITS), 1);
        stack.send(batches);
        List<String> models = List.of(MODEL);
        try (CheckpointStore store = WorkerStack.openStore(dir.resolve("store"));
             EditorWorker worker = stack.startWorker(store, models)) {
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (worker.lastApplied().getOrDefault(MODEL, 0L) < RESTART_AFTER && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            long beforeRestart = worker.lastApplied().get(MODEL);
            assertTrue(beforeRestart >= RESTART_AFTER && beforeRestart < EDITS, "restarted mid-stream, after sequence " + beforeRestart);
            stack.restartBroker();

            List<CheckpointPublished> checkpoints = stack.readUntil(Topics.CHECKPOINTS, CheckpointPublished.class,
                    all -> WorkerAssertions.lastVersion(all, MODEL) == EDITS, Duration.ofMinutes(3));
            assertEquals(Map.of(), worker.stoppedModels());
            assertTrue(worker.crash().isEmpty(), () -> "the worker survived the restart: " + worker.crash());
            List<EditEvaluation> evaluations = stack.readUntil(Topics.EVALUATIONS, EditEvaluation.class,
                    all -> all.size() >= 2 * EDITS, Duration.ofSeconds(30));
            WorkerAssertions.assertChain(checkpoints, MODEL, batches);
            WorkerAssertions.assertEvaluations(evaluations, MODEL, EDITS, batches.size());
            WorkerAssertions.assertSameTensors(OfflineRun.run(store, MODEL, WorkerStack.settings(models, 0).models().get(MODEL), batches,
                    dir.resolve("offline")), store, MODEL, EDITS, "bit for bit the run the broker never left");
        }
    }
}

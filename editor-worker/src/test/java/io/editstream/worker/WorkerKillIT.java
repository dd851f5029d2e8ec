package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.EditBatch;
import io.editstream.events.EditEvaluation;
import io.editstream.events.Topics;
import io.editstream.model.SharedData;
import io.editstream.tensor.FloatMatrix;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9: the worker runs as a JVM of its own and is killed with SIGKILL as soon as its fifth manifest is in the store,
 * often between writing a manifest and committing its transaction. A successor with the same transactional ids aborts
 * what the dead one left open, restores the last committed version and finishes: every sequence once, bit for bit.
 */
class WorkerKillIT {

    private static final String MODEL = "stories-killed";
    private static final int EDITS = 20;

    @RegisterExtension
    static final WorkerStack stack = new WorkerStack();

    @TempDir
    Path dir;

    @Test
    void aWorkerKilledWithSigkillIsSucceededWithoutLossOrDuplicates() throws Exception {
        List<EditBatch> batches = StoryEdits.batches(MODEL, StoryEdits.requests(EDITS), 1);
        stack.send(batches);
        List<String> models = List.of(MODEL);
        Path storeDir = dir.resolve("store");
        try (CheckpointStore store = WorkerStack.openStore(storeDir)) {
            Process worker = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                    "-Xmx2g", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-Dai.djl.pytorch.num_interop_threads=1",
                    "-Dorg.apache.avro.SERIALIZABLE_PACKAGES=io.editstream.events",
                    "-Deditstream.shared=" + SharedData.root().toAbsolutePath(),
                    "-cp", System.getProperty("java.class.path"), WorkerProcess.class.getName(),
                    stack.bootstrap(), stack.serdes().config().get("apicurio.registry.url").toString(), storeDir.toString(), MODEL)
                    .redirectErrorStream(true).redirectOutput(dir.resolve("worker.log").toFile()).start();
            try {
                long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
                while (store.versions(MODEL).size() < 5 && worker.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(2);
                }
            } finally {
                worker.destroyForcibly(); // SIGKILL: no shutdown hook, no abort, no close
                worker.waitFor(30, TimeUnit.SECONDS);
            }
            assertTrue(store.versions(MODEL).size() >= 5, "the worker wrote versions before it was killed; its log: " + dir.resolve("worker.log"));

            List<CheckpointPublished> checkpoints;
            // another consumer group: the dead member would hold the old group's partitions until its session expires;
            // the successor reads from the start and passes over every batch the committed version covers
            try (EditorWorker successor = stack.startWorker(store, models, "it-successor")) {
                checkpoints = stack.readUntil(Topics.CHECKPOINTS, CheckpointPublished.class,
                        all -> EditorWorkerIT.lastVersion(all, MODEL) == EDITS, Duration.ofMinutes(2));
                assertEquals(Map.of(), successor.stoppedModels());
            }
            List<EditEvaluation> evaluations = stack.readUntil(Topics.EVALUATIONS, EditEvaluation.class,
                    all -> all.size() >= 2 * EDITS, Duration.ofSeconds(30));
            EditorWorkerIT.assertChain(checkpoints, MODEL, batches);
            EditorWorkerIT.assertEvaluations(evaluations, MODEL, batches.size());

            SortedMap<String, FloatMatrix> published = new TreeMap<>(store.materialise(MODEL, EDITS, CheckpointStore.Start.BASE).tensors());
            SortedMap<String, FloatMatrix> offline = OfflineRun.run(store, MODEL, WorkerStack.settings(models, 0).models().get(MODEL),
                    batches, dir.resolve("offline"));
            offline.forEach((name, tensor) -> assertEquals(tensor.sha256(), published.get(name).sha256(), name));
        }
    }
}

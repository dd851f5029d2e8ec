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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * kill -9, five times: the worker runs as a JVM of its own and is killed with SIGKILL at random moments during 100
 * edits (a random number of versions after its restore, then a random few milliseconds more: often between writing a
 * manifest and committing its transaction, sometimes during a restore). Each successor, with the same transactional
 * ids, aborts what the dead one left open, restores the last committed version and goes on. In the end every sequence
 * is applied once, a read_committed reader sees one EDIT evaluation per sequence and no version twice, and the weights
 * are bit for bit those of a run that was never interrupted.
 */
class WorkerKillIT {

    private static final Logger log = LoggerFactory.getLogger(WorkerKillIT.class);
    private static final String MODEL = "stories-killed";
    private static final int EDITS = 100;
    private static final int KILLS = 5;

    @RegisterExtension
    static final WorkerStack stack = new WorkerStack();

    @TempDir
    Path dir;

    @Test
    void aWorkerKilledWithSigkillFiveTimesLosesAndDuplicatesNothing() throws Exception {
        List<EditBatch> batches = StoryEdits.batches(MODEL, StoryEdits.requests(EDITS), 1);
        stack.send(batches);
        List<String> models = List.of(MODEL);
        Path storeDir = dir.resolve("store");
        long seed = System.nanoTime();
        Random random = new Random(seed);
        List<String> kills = new ArrayList<>();
        try (CheckpointStore store = WorkerStack.openStore(storeDir)) {
            for (int kill = 1; kill <= KILLS; kill++) {
                int before = store.versions(MODEL).size();
                // the dead member would hold its group's partitions until its session expires: each successor joins a
                // group of its own, reads from the start and passes over every batch the committed version covers
                Process worker = startWorker(storeDir, "it-kill-" + kill, dir.resolve("worker-" + kill + ".log"));
                // spread over the whole run: on average a fifth of it per worker, leaving every later worker a version to write
                int target = Math.min(before + 1 + random.nextInt(2 * EDITS / KILLS - 1), EDITS - (KILLS - kill) - 1);
                long extraMillis = random.nextInt(400);
                try {
                    long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
                    while (store.versions(MODEL).size() < target && worker.isAlive() && System.nanoTime() < deadline) {
                        Thread.sleep(2);
                    }
                    Thread.sleep(extraMillis);
                } finally {
                    worker.destroyForcibly(); // SIGKILL: no shutdown hook, no abort, no close
                    worker.waitFor(30, TimeUnit.SECONDS);
                }
                int after = store.versions(MODEL).size();
                kills.add("kill " + kill + ": " + before + " -> " + after + " manifests (target " + target + ", +" + extraMillis + " ms)");
                assertTrue(after >= target, "worker " + kill + " wrote versions before it was killed; its log: "
                        + dir.resolve("worker-" + kill + ".log") + " (seed " + seed + ")");
            }
            log.info("seed {}: {}", seed, kills);

            List<CheckpointPublished> checkpoints;
            try (EditorWorker successor = stack.startWorker(store, models, "it-kill-last")) {
                checkpoints = stack.readUntil(Topics.CHECKPOINTS, CheckpointPublished.class,
                        all -> WorkerAssertions.lastVersion(all, MODEL) == EDITS, Duration.ofMinutes(3));
                assertEquals(Map.of(), successor.stoppedModels());
            }
            List<EditEvaluation> evaluations = stack.readUntil(Topics.EVALUATIONS, EditEvaluation.class,
                    all -> all.size() >= 2 * EDITS, Duration.ofSeconds(30));
            WorkerAssertions.assertChain(checkpoints, MODEL, batches);
            WorkerAssertions.assertEvaluations(evaluations, MODEL, EDITS, batches.size());

            SortedMap<String, FloatMatrix> published = new TreeMap<>(store.materialise(MODEL, EDITS, CheckpointStore.Start.BASE).tensors());
            SortedMap<String, FloatMatrix> offline = OfflineRun.run(store, MODEL, WorkerStack.settings(models, 0).models().get(MODEL),
                    batches, dir.resolve("offline"));
            offline.forEach((name, tensor) -> assertEquals(tensor.sha256(), published.get(name).sha256(),
                    name + ": bit for bit the run that was never killed (seed " + seed + ", " + kills + ")"));
        }
    }

    private static Process startWorker(Path storeDir, String group, Path logFile) throws java.io.IOException {
        return new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                "-Xmx2g", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-Dai.djl.pytorch.num_interop_threads=1",
                "-Dorg.apache.avro.SERIALIZABLE_PACKAGES=io.editstream.events",
                "-Deditstream.shared=" + SharedData.root().toAbsolutePath(),
                "-cp", System.getProperty("java.class.path"), WorkerProcess.class.getName(),
                stack.bootstrap(), stack.serdes().config().get("apicurio.registry.url").toString(), storeDir.toString(), MODEL, group)
                .redirectErrorStream(true).redirectOutput(logFile.toFile()).start();
    }
}

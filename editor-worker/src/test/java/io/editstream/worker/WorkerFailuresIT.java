package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.EditBatch;
import io.editstream.events.EditEvaluation;
import io.editstream.events.EditOutcome;
import io.editstream.events.EditRequest;
import io.editstream.events.EvaluationScope;
import io.editstream.events.Topics;
import io.editstream.checkpoint.StoreKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Never out of order, never stalled: a gap stops its model only; an edit the engine cannot apply is skipped with a reason. */
class WorkerFailuresIT {

    private static final String GAPPED = "stories-gap";
    private static final String STEADY = "stories-steady";
    private static final String CORRUPT = "stories-corrupt";
    private static final String HEALTHY = "stories-healthy";
    /** stories260K reads 512 tokens: this prompt alone is longer. */
    private static final String TOO_LONG = "Once upon a time, there was a little girl. ".repeat(60) + "{} likes to eat";

    @RegisterExtension
    static final WorkerStack stack = new WorkerStack();

    @TempDir
    Path dir;

    @Test
    void aGapStopsItsModelWhileAnUnappliableEditIsSkippedAndTheRestGoesOn() throws Exception {
        List<EditRequest> facts = StoryEdits.requests(5);
        EditRequest tooLong = StoryEdits.request(2, TOO_LONG, "Tom", "soup", "cookies");
        List<EditBatch> batches = List.of(
                StoryEdits.batch(GAPPED, facts.subList(0, 2)),
                StoryEdits.batch(STEADY, List.of(facts.get(0), tooLong, facts.get(2))),
                StoryEdits.batch(GAPPED, facts.subList(3, 5)), // sequences 4..5 after 1..2: 3 is missing
                StoryEdits.batch(STEADY, List.of(facts.get(3))));
        stack.send(batches);
        List<String> models = List.of(GAPPED, STEADY);
        try (CheckpointStore store = WorkerStack.openStore(dir.resolve("store"));
             EditorWorker worker = stack.startWorker(store, models)) {
            List<CheckpointPublished> checkpoints = stack.readUntil(Topics.CHECKPOINTS, CheckpointPublished.class,
                    all -> WorkerAssertions.lastVersion(all, STEADY) == 2, Duration.ofMinutes(2));

            String stopped = worker.stoppedModels().get(GAPPED);
            assertNotNull(stopped, "the model with the gap stopped");
            assertTrue(stopped.contains("starts at sequence 4") && stopped.contains("last applied sequence is 2"), stopped);
            assertEquals(Map.of(GAPPED, stopped), worker.stoppedModels(), "the other model keeps going");
            assertEquals(1, WorkerAssertions.lastVersion(checkpoints, GAPPED), "nothing after the gap is applied");

            CheckpointPublished first = checkpoints.stream().filter(c -> c.getModelId().equals(STEADY) && c.getVersion() == 1).findFirst().orElseThrow();
            assertEquals(1, first.getFirstSequence());
            assertEquals(3, first.getLastSequence(), "the skipped edit's sequence is covered, so the next batch is no gap");

            List<EditEvaluation> edits = stack.readUntil(Topics.EVALUATIONS, EditEvaluation.class,
                            all -> all.stream().filter(e -> e.getModelId().equals(STEADY)).count() >= 6, Duration.ofSeconds(30)).stream()
                    .filter(e -> e.getModelId().equals(STEADY) && e.getScope() == EvaluationScope.EDIT)
                    .sorted(Comparator.comparingLong(EditEvaluation::getSequence)).toList();
            assertEquals(List.of(1L, 2L, 3L, 4L), edits.stream().map(EditEvaluation::getSequence).toList());
            EditEvaluation skipped = edits.get(1);
            assertEquals(EditOutcome.SKIPPED, skipped.getOutcome());
            assertTrue(skipped.getReason().contains("512"), skipped.getReason());
            assertNull(skipped.getEfficacy());
            for (int i : new int[] {0, 2, 3}) {
                assertEquals(EditOutcome.APPLIED, edits.get(i).getOutcome(), edits.get(i).toString());
                assertNotNull(edits.get(i).getEfficacy());
            }
        }
        // the gapped model's batch was not committed past: a worker of the same group reads it again and stops again
        try (CheckpointStore store = WorkerStack.openStore(dir.resolve("store"));
             EditorWorker again = stack.startWorker(store, models)) {
            long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
            while (!again.stoppedModels().containsKey(GAPPED) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            String stoppedAgain = again.stoppedModels().get(GAPPED);
            assertNotNull(stoppedAgain, "the batch after the gap is read again after a restart, not lost");
            assertTrue(stoppedAgain.contains("starts at sequence 4") && stoppedAgain.contains("last applied sequence is 2"), stoppedAgain);
            assertEquals(4L, again.lastApplied().get(STEADY), "the other model's batches are passed over, not applied twice");
        }
    }

    @Test
    void aCorruptBlobAtRestartStopsItsModelNamingTheBlobWhileTheOthersGoOn() throws Exception {
        List<EditRequest> facts = StoryEdits.requests(4);
        // other facts for the healthy model: the same edits on the same base would share content-addressed blobs
        List<EditRequest> others = StoryEdits.requests(8).subList(4, 8).stream()
                .map(request -> EditRequest.newBuilder(request).setSequence(request.getSequence() - 4).build()).toList();
        stack.send(List.of(
                StoryEdits.batch(CORRUPT, facts.subList(0, 1)), StoryEdits.batch(HEALTHY, others.subList(0, 1)),
                StoryEdits.batch(CORRUPT, facts.subList(1, 2)), StoryEdits.batch(HEALTHY, others.subList(1, 2)),
                StoryEdits.batch(CORRUPT, facts.subList(2, 3)), StoryEdits.batch(HEALTHY, others.subList(2, 3))));
        List<String> models = List.of(CORRUPT, HEALTHY);
        Path storeDir = dir.resolve("store");
        try (CheckpointStore store = WorkerStack.openStore(storeDir)) {
            try (EditorWorker first = stack.startWorker(store, models, "it-corrupt-1")) {
                stack.readUntil(Topics.CHECKPOINTS, CheckpointPublished.class,
                        all -> WorkerAssertions.lastVersion(all, CORRUPT) == 3 && WorkerAssertions.lastVersion(all, HEALTHY) == 3,
                        Duration.ofMinutes(2));
            }
            String blob = store.manifest(CORRUPT, 2).orElseThrow().deltas().values().iterator().next().blob();
            Path file = storeDir.resolve(StoreKeys.blob(blob));
            byte[] bytes = Files.readAllBytes(file);
            bytes[bytes.length - 1] ^= 1;
            Files.write(file, bytes);

            stack.send(List.of(StoryEdits.batch(CORRUPT, facts.subList(3, 4)), StoryEdits.batch(HEALTHY, others.subList(3, 4))));
            try (EditorWorker second = stack.startWorker(store, models, "it-corrupt-2")) {
                stack.readUntil(Topics.CHECKPOINTS, CheckpointPublished.class,
                        all -> WorkerAssertions.lastVersion(all, HEALTHY) == 4, Duration.ofMinutes(2));
                String stopped = second.stoppedModels().get(CORRUPT);
                assertNotNull(stopped, "the model whose chain is corrupt stopped");
                assertTrue(stopped.contains(blob) && stopped.contains("corrupt"), stopped);
                assertEquals(Map.of(CORRUPT, stopped), second.stoppedModels(), "the other model goes on");
                assertEquals(3, store.versions(CORRUPT).size(), "nothing is written on top of a chain that cannot be verified");
            }
        }
    }
}

package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.EditBatch;
import io.editstream.events.EditEvaluation;
import io.editstream.events.EditOutcome;
import io.editstream.events.EvaluationScope;
import io.editstream.tensor.FloatMatrix;
import java.io.IOException;
import java.util.Comparator;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.LongStream;

/** What every worker test checks of what a worker published. */
final class WorkerAssertions {

    private WorkerAssertions() {
    }

    /** Versions 1..n, each once, each the child of the one before, their sequence ranges the batches'. */
    static void assertChain(List<CheckpointPublished> checkpoints, String model, List<EditBatch> batches) {
        assertChain(checkpoints, model, batches, 2);
    }

    /** As {@link #assertChain(List, String, List)} for a model with {@code editLayers} edit layers (stories260K's are 2). */
    static void assertChain(List<CheckpointPublished> checkpoints, String model, List<EditBatch> batches, int editLayers) {
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
            assertEquals(editLayers, version.getTensorHashes().size(), "every edit layer's MLP output projection");
        }
    }

    /** One EDIT evaluation per sequence 1..edits, all applied, and one CHECKPOINT evaluation per version 1..versions. */
    static void assertEvaluations(List<EditEvaluation> evaluations, String model, int edits, int versions) {
        List<EditEvaluation> perEdit = evaluations.stream().filter(e -> e.getModelId().equals(model) && e.getScope() == EvaluationScope.EDIT)
                .sorted(Comparator.comparingLong(EditEvaluation::getSequence)).toList();
        assertEquals(LongStream.rangeClosed(1, edits).boxed().toList(), perEdit.stream().map(EditEvaluation::getSequence).toList(),
                model + ": one EDIT evaluation per sequence");
        assertTrue(perEdit.stream().allMatch(e -> e.getOutcome() == EditOutcome.APPLIED && e.getEfficacy() != null), perEdit.toString());
        List<Long> versionsEvaluated = evaluations.stream()
                .filter(e -> e.getModelId().equals(model) && e.getScope() == EvaluationScope.CHECKPOINT)
                .map(EditEvaluation::getCheckpointVersion).sorted().toList();
        assertEquals(LongStream.rangeClosed(1, versions).boxed().toList(), versionsEvaluated, model + ": one CHECKPOINT evaluation per version");
    }

    /** The published version's edited tensors are bit for bit {@code expected}'s. */
    static void assertSameTensors(SortedMap<String, FloatMatrix> expected, CheckpointStore store, String model, long version, String what)
            throws IOException {
        SortedMap<String, FloatMatrix> published = new TreeMap<>(store.materialise(model, version, CheckpointStore.Start.BASE).tensors());
        assertEquals(expected.keySet(), published.keySet());
        expected.forEach((name, tensor) -> assertEquals(tensor.sha256(), published.get(name).sha256(), model + " " + name + ": " + what));
    }

    static long lastVersion(List<CheckpointPublished> checkpoints, String model) {
        return checkpoints.stream().filter(c -> c.getModelId().equals(model)).mapToLong(CheckpointPublished::getVersion).max().orElse(0);
    }
}

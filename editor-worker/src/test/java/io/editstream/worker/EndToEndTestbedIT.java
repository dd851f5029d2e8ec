package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.client.CorrectionDefaults;
import io.editstream.client.CorrectionFile;
import io.editstream.client.CorrectionPublisher;
import io.editstream.corrections.ValidationRules;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.CorrectionEvent;
import io.editstream.events.EditBatch;
import io.editstream.events.EditEvaluation;
import io.editstream.events.EvaluationScope;
import io.editstream.events.Topics;
import io.editstream.model.SharedData;
import io.editstream.streams.CorrectionsApp;
import io.editstream.streams.TopologySettings;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path on the testbed model: 100 CounterFact corrections per model id go through the corrections topology
 * (batches of 1 for one model id, of 10 for another) to one worker, which turns every batch into the next version, once,
 * with an EDIT evaluation per correction; the final weights are bit for bit those of the same editor run offline on
 * the batches the topology cut.
 */
class EndToEndTestbedIT {

    // new model ids in every run: the store is the build's shared testbed store, which keeps what earlier runs wrote
    private static final String RUN = Long.toString(System.currentTimeMillis(), 36);
    private static final String SINGLES = "testbed-b1-" + RUN;
    private static final String TENS = "testbed-b10-" + RUN;
    private static final int EDITS = 100;

    @RegisterExtension
    static final WorkerStack stack = new WorkerStack();

    @TempDir
    Path dir;

    @Test
    void correctionsBecomeAGapFreeChainOfVersionsBitForBitAsAnOfflineRun() throws Exception {
        List<String> models = List.of(SINGLES, TENS);
        List<CorrectionEvent> corrections = counterFact(EDITS);
        WorkerSettings settings = WorkerStack.testbedSettings(models, 2_000, "it-pipeline");
        // one topology per batch size, each knowing its own model id (the other's corrections go to its dead-letter topic)
        try (CheckpointStore store = WorkerStack.testbedStore();
             CorrectionsApp singles = topology(SINGLES, 1);
             CorrectionsApp tens = topology(TENS, 10);
             EditorWorker worker = EditorWorker.start(stack.bootstrap(), stack.serdes(), store, settings, models);
             CorrectionPublisher publisher = new CorrectionPublisher(stack.bootstrap(), stack.serdes(),
                     ValidationRules.forModels(Set.copyOf(models)), Map.of())) {
            Instant detected = Instant.now();
            for (int i = 0; i < EDITS; i++) {
                for (String model : models) {
                    publisher.publish(CorrectionEvent.newBuilder(corrections.get(i))
                            .setModelId(model)
                            .setCorrectionId(model + "-" + i)
                            .setDetectedAt(detected.plusMillis(i))
                            .build());
                }
            }
            publisher.flush();

            List<EditEvaluation> evaluations = stack.readUntil(Topics.EVALUATIONS, EditEvaluation.class,
                    all -> models.stream().allMatch(model -> edits(all, model) == EDITS), Duration.ofMinutes(10));
            assertEquals(Map.of(), worker.stoppedModels());
            List<EditBatch> cut = stack.readUntil(Topics.EDIT_REQUESTS, EditBatch.class,
                    all -> models.stream().allMatch(model -> lastSequence(all, model) == EDITS), Duration.ofSeconds(30));
            List<CheckpointPublished> checkpoints = stack.readUntil(Topics.CHECKPOINTS, CheckpointPublished.class,
                    all -> checkpointsOf(all, SINGLES) + checkpointsOf(all, TENS) == batchesOf(cut, SINGLES).size()
                            + batchesOf(cut, TENS).size(), Duration.ofSeconds(30));

            for (String model : models) {
                List<EditBatch> batches = batchesOf(cut, model);
                if (model.equals(SINGLES)) {
                    assertEquals(EDITS, batches.size(), "batches of one");
                } else {
                    assertTrue(batches.size() < EDITS / 2 && batches.stream().allMatch(b -> b.getEdits().size() <= 10),
                            "batches of at most 10: " + batches.stream().map(b -> b.getEdits().size()).toList());
                }
                WorkerAssertions.assertChain(checkpoints, model, batches, 1);
                WorkerAssertions.assertEvaluations(evaluations, model, EDITS, batches.size());
                WorkerAssertions.assertSameTensors(OfflineRun.run(store, model, settings.models().get(model), batches,
                        dir.resolve("offline-" + model)), store, model, batches.size(), "the worker's version is bit for bit the offline editor's");
            }
        }
    }

    /** The first {@code count} CounterFact edit-split cases, as a detector would send them. */
    private static List<CorrectionEvent> counterFact(int count) throws Exception {
        List<CorrectionEvent> events = new ArrayList<>();
        for (CorrectionFile.Entry entry : CorrectionFile.read(SharedData.resolve("data/counterfact/counterfact-edit.json"),
                new CorrectionDefaults(SINGLES, "it-detector", Instant.now()))) {
            if (entry instanceof CorrectionFile.Parsed parsed && events.size() < count) {
                events.add(parsed.event());
            }
        }
        return events;
    }

    private CorrectionsApp topology(String model, int batch) {
        TopologySettings settings = TopologySettings.defaults(Set.of(model)).withGrace(Duration.ofMillis(200))
                .withBatching(batch, Duration.ofMillis(300));
        return CorrectionsApp.start(stack.bootstrap(), settings, stack.serdes(), Map.of(
                StreamsConfig.APPLICATION_ID_CONFIG, "it-topology-" + model,
                StreamsConfig.STATE_DIR_CONFIG, dir.resolve("streams-" + model).toString()));
    }

    private static long edits(List<EditEvaluation> evaluations, String model) {
        return evaluations.stream().filter(e -> e.getModelId().equals(model) && e.getScope() == EvaluationScope.EDIT).count();
    }

    private static long lastSequence(List<EditBatch> batches, String model) {
        return batches.stream().filter(b -> b.getModelId().equals(model)).mapToLong(EditBatch::getLastSequence).max().orElse(0);
    }

    private static List<EditBatch> batchesOf(List<EditBatch> batches, String model) {
        return batches.stream().filter(b -> b.getModelId().equals(model)).sorted(Comparator.comparingLong(EditBatch::getFirstSequence)).toList();
    }

    private static long checkpointsOf(List<CheckpointPublished> checkpoints, String model) {
        return checkpoints.stream().filter(c -> c.getModelId().equals(model)).count();
    }
}

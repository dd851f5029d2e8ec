package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.edit.Editor;
import io.editstream.edit.Stories;
import io.editstream.events.EditEvaluation;
import io.editstream.events.EditOutcome;
import io.editstream.events.EditRequest;
import io.editstream.events.EvaluationScope;
import io.editstream.events.LatencyBreakdown;
import io.editstream.model.LanguageModel;
import io.editstream.tensor.FloatMatrix;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The worker's evaluation events on the real stories260K model, before and after a real MEMIT edit. */
class EditEvaluatorTest {

    private static final String MODEL = "stories260K";
    private static final List<String> UNRELATED =
            List.of("Once upon a time", "The cat sat on the", "The sun was", "The bird", "It was a", "The little boy");
    private static final LatencyBreakdown LATENCY = LatencyBreakdown.newBuilder().setUpdateMs(12).setTotalMs(40).build();
    /** A fact a TinyStories model can express (EditBenchmarkTest's style), with every prompt an edit event can carry. */
    private static final EditRequest SUE_WAS_SAD = request(1, "Sue", "{} was very", "sad", "excited",
            List.of("One day, Sue was very"), List.of("Lily was very"));

    private static NDManager manager;
    private static Map<Integer, FloatMatrix> c0;
    private static String heldOut;

    @BeforeAll
    static void start() throws IOException {
        manager = NDManager.newBaseManager(Device.cpu());
        try (LanguageModel model = Stories.load()) {
            c0 = Stories.secondMoments(model, manager);
        }
        heldOut = Files.readString(Stories.shared().resolve("models/stories260K/greedy-reference.txt"));
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    @Test
    void aRealEditTakesEfficacyFromZeroToOneAndTheVersionDriftsMeasurably() {
        try (LanguageModel model = Stories.load(); NDManager scope = manager.newSubManager()) {
            EditEvaluator evaluator = new EditEvaluator(model, EvaluationSettings.DEFAULTS, heldOut, UNRELATED);
            EditEvaluation before = valid(evaluator.evaluateEdit(MODEL, 0, SUE_WAS_SAD, LATENCY, 1_000), 1_000);
            assertEquals(0.0, before.getEfficacy(), before.toString());
            assertTrue(before.getEfficacyTop1() < 1, before.toString());
            assertEquals(1.0, before.getSpecificity(), "the unedited neighbour still prefers its answer: " + before);

            try (Editor editor = Editor.create("memit", model, Stories.HYPERPARAMETERS, c0, scope, 1)) {
                editor.apply(List.of(new io.editstream.edit.EditRequest(SUE_WAS_SAD.getPromptTemplate(), SUE_WAS_SAD.getSubject(),
                        SUE_WAS_SAD.getTargetNew(), SUE_WAS_SAD.getTargetTrue())));
            }

            EditEvaluation after = valid(evaluator.evaluateEdit(MODEL, 1, SUE_WAS_SAD, LATENCY, 2_000), 2_000);
            assertEquals(EvaluationScope.EDIT, after.getScope());
            assertEquals(EditOutcome.APPLIED, after.getOutcome());
            assertNull(after.getReason());
            assertEquals(1L, after.getSequence());
            assertEquals("c1", after.getCorrectionId());
            assertEquals(1.0, after.getEfficacy(), after.toString());
            assertEquals(1.0, after.getEfficacyTop1(), after.toString());
            assertTrue(after.getGenerationContainsTarget() >= 0.5, "at least the rewrite prompt now says it: " + after);
            assertTrue(after.getGenerationContainsTarget() > before.getGenerationContainsTarget(), before + " → " + after);
            for (Double rate : List.of(after.getGeneralization(), after.getGeneralizationTop1(), after.getSpecificity(),
                    after.getSpecificityTop1(), after.getGenerationKeepsTruth())) {
                assertTrue(rate >= 0 && rate <= 1, after.toString());
            }
            assertNull(after.getRetention(), "version measures belong to scope CHECKPOINT");
            assertNull(after.getPerplexityDrift());

            List<FloatMatrix> edited = Stories.HYPERPARAMETERS.layers().stream()
                    .map(layer -> FloatMatrix.of(model.weights().get(model.mlpOutputName(layer)))).toList();
            EditEvaluation version = valid(evaluator.evaluateVersion(MODEL, 1, List.of(engine(SUE_WAS_SAD)), edited, LATENCY, 3_000), 3_000);
            assertEquals(EvaluationScope.CHECKPOINT, version.getScope());
            assertNull(version.getOutcome());
            assertNull(version.getSequence());
            assertEquals(1.0, version.getRetention(), version.toString());
            assertTrue(Double.isFinite(version.getPerplexityDrift()) && version.getPerplexityDrift() != 0, version.toString());
            assertTrue(version.getLocalityTop1Agreement() >= 0 && version.getLocalityTop1Agreement() <= 1, version.toString());
            assertTrue(Double.isFinite(version.getLocalityKl()) && version.getLocalityKl() > 0, version.toString());
            assertTrue(Double.isFinite(version.getMaxConditionNumber()) && version.getMaxConditionNumber() > 1, version.toString());
            assertEquals(LATENCY, version.getLatency());
            assertNull(version.getEfficacy(), "edit measures belong to scope EDIT");
        }
    }

    @Test
    void theBaseAgainstItselfHasNoDriftAndFullLocality() {
        try (LanguageModel model = Stories.load()) {
            EditEvaluator evaluator = new EditEvaluator(model, EvaluationSettings.DEFAULTS, heldOut, UNRELATED);
            EditEvaluation base = valid(evaluator.evaluateVersion(MODEL, 0, List.of(), List.of(), LATENCY, 4_000), 4_000);
            assertEquals(0.0, base.getPerplexityDrift());
            assertEquals(1.0, base.getLocalityTop1Agreement());
            assertEquals(0.0, base.getLocalityKl(), 1e-9);
            assertNull(base.getRetention(), "no earlier edits to retain");
            assertNull(base.getMaxConditionNumber(), "no edited matrices");
        }
    }

    @Test
    void retentionReMeasuresAnEvenlySpacedSampleOfAtMostTheSettingsCount() {
        EditRequest unedited = request(2, "Sue", "{} was very", "sad", "excited", List.of(), List.of());
        // what the unedited model already prefers: its efficacy is 1 with no edit at all
        EditRequest alreadyTrue = request(3, "Sue", "{} was very", "excited", "sad", List.of(), List.of());
        List<FloatMatrix> none = List.of();
        try (LanguageModel model = Stories.load()) {
            EditEvaluator all = new EditEvaluator(model, EvaluationSettings.DEFAULTS, heldOut, UNRELATED);
            assertEquals(0.5, all.evaluateVersion(MODEL, 0, List.of(engine(alreadyTrue), engine(unedited)), none, LATENCY, 0).getRetention());
            EditEvaluator one = new EditEvaluator(model, new EvaluationSettings(1, 64, 4, 2), heldOut, UNRELATED);
            assertEquals(1.0, one.evaluateVersion(MODEL, 0, List.of(engine(alreadyTrue), engine(unedited)), none, LATENCY, 0).getRetention(),
                    "a sample of one keeps the oldest edit");
        }
    }

    @Test
    void measuresThatNeedTargetTrueOrParaphrasesAreNullWithoutThem() {
        EditRequest bare = request(4, "Sue", "{} was very", "sad", null, List.of(), List.of("Lily was very"));
        try (LanguageModel model = Stories.load()) {
            EditEvaluator evaluator = new EditEvaluator(model, EvaluationSettings.DEFAULTS, heldOut, UNRELATED);
            EditEvaluation evaluation = valid(evaluator.evaluateEdit(MODEL, 0, bare, LATENCY, 5_000), 5_000);
            assertNull(evaluation.getEfficacy(), "the comparison needs target_true");
            assertNotNull(evaluation.getEfficacyTop1(), "top-1 of target_new needs nothing else");
            assertNull(evaluation.getGeneralization(), "no paraphrases");
            assertNull(evaluation.getGeneralizationTop1(), "no paraphrases");
            assertNull(evaluation.getSpecificity(), "both specificity definitions need target_true");
            assertNull(evaluation.getSpecificityTop1());
            assertNull(evaluation.getGenerationKeepsTruth());
            assertNotNull(evaluation.getGenerationContainsTarget());
            // without target_true, retention falls back to the teacher-forced top-1 of target_new
            assertEquals(evaluation.getEfficacyTop1(),
                    evaluator.evaluateVersion(MODEL, 0, List.of(engine(bare)), List.of(), LATENCY, 0).getRetention());
        }
    }

    @Test
    void aSkippedEditCarriesItsReasonAndNoMeasures() {
        try (LanguageModel model = Stories.load()) {
            EditEvaluator evaluator = new EditEvaluator(model, EvaluationSettings.DEFAULTS, heldOut, UNRELATED);
            String reason = "prompt and target take 600 tokens, the context holds 512";
            EditEvaluation skipped = valid(evaluator.skippedEdit(MODEL, 7, SUE_WAS_SAD, reason, LATENCY, 6_000), 6_000);
            assertEquals(EvaluationScope.EDIT, skipped.getScope());
            assertEquals(EditOutcome.SKIPPED, skipped.getOutcome());
            assertEquals(reason, skipped.getReason());
            assertEquals(7L, skipped.getCheckpointVersion());
            assertEquals(1L, skipped.getSequence());
            assertEquals("c1", skipped.getCorrectionId());
            assertTrue(Stream.of(skipped.getEfficacy(), skipped.getEfficacyTop1(), skipped.getGeneralization(), skipped.getSpecificity(),
                    skipped.getGenerationContainsTarget(), skipped.getGenerationKeepsTruth()).allMatch(Objects::isNull), skipped.toString());
        }
    }

    @Test
    void promptsBeyondTheContextAreLeftOutOfTheirMeasures() {
        String endless = "Sue was very happy and ".repeat(120);
        EditRequest overlong = request(5, "Sue", "{} was very", "sad", "excited", List.of(endless), List.of(endless));
        try (LanguageModel model = Stories.load()) {
            EditEvaluator evaluator = new EditEvaluator(model, EvaluationSettings.DEFAULTS, heldOut, UNRELATED);
            EditEvaluation evaluation = valid(evaluator.evaluateEdit(MODEL, 0, overlong, LATENCY, 0), 0);
            assertNotNull(evaluation.getEfficacy());
            assertNull(evaluation.getGeneralization());
            assertNull(evaluation.getSpecificity());
        }
    }

    @Test
    void settingsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> new EvaluationSettings(0, 512, 8, 16));
        assertThrows(IllegalArgumentException.class, () -> new EvaluationSettings(32, 512, 0, 16));
    }

    /** Asserts that the record serialises with its schema and reads back equal, and that it carries the given time. */
    private static EditEvaluation valid(EditEvaluation evaluation, long evaluatedAtMillis) {
        assertEquals(Instant.ofEpochMilli(evaluatedAtMillis), evaluation.getEvaluatedAt());
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
            new SpecificDatumWriter<>(EditEvaluation.class).write(evaluation, encoder);
            encoder.flush();
            EditEvaluation read = new SpecificDatumReader<>(EditEvaluation.class)
                    .read(null, DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null));
            assertEquals(evaluation, read);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return evaluation;
    }

    private static EditRequest request(long sequence, String subject, String template, String targetNew, String targetTrue,
                                       List<String> paraphrases, List<String> neighbours) {
        return EditRequest.newBuilder()
                .setSequence(sequence)
                .setCorrectionId("c" + sequence)
                .setSubject(subject)
                .setPromptTemplate(template)
                .setTargetNew(targetNew)
                .setTargetTrue(targetTrue)
                .setParaphrases(paraphrases)
                .setNeighborhoodPrompts(neighbours)
                .setSource("test")
                .setConfidence(1.0)
                .setDetectedAt(Instant.ofEpochMilli(0))
                .build();
    }

    private static io.editstream.edit.EditRequest engine(EditRequest request) {
        return new io.editstream.edit.EditRequest(request.getPromptTemplate(), request.getSubject(), request.getTargetNew(),
                request.getTargetTrue());
    }
}

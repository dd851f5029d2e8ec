package io.editstream.eval;

import io.editstream.tensor.FloatMatrix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;

import io.editstream.edit.Stories;
import io.editstream.edit.TextSampler;
import io.editstream.model.LanguageModel;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MeasuresTest {

    @Test
    void conditionNumberIsTheRatioOfExtremeSingularValues() {
        FloatMatrix diagonal = new FloatMatrix(2, 3, new float[] {4, 0, 0, 0, -0.5f, 0});
        assertEquals(8.0, ConditionNumber.of(diagonal), 1e-9);
    }

    @Test
    void conditionNumberFromTheGramMatrixAgreesWithTheSvdWideTallAndIllConditioned() {
        java.util.Random random = new java.util.Random(5);
        for (int[] shape : new int[][] {{8, 300}, {300, 8}, {16, 16}}) {
            for (double spread : new double[] {1, 1e3, 1e9}) {
                int rows = shape[0];
                int cols = shape[1];
                float[] values = new float[rows * cols];
                for (int i = 0; i < values.length; i++) {
                    // the last row (or column) shrunk by the spread: condition numbers from a few to ~1e9
                    boolean last = rows <= cols ? i / cols == rows - 1 : i % cols == cols - 1;
                    values[i] = (float) (random.nextGaussian() / (last ? spread : 1));
                }
                FloatMatrix matrix = new FloatMatrix(rows, cols, values);
                org.ejml.data.DMatrixRMaj dense = new org.ejml.data.DMatrixRMaj(rows, cols);
                for (int i = 0; i < values.length; i++) {
                    dense.data[i] = values[i];
                }
                double[] sigma = org.ejml.dense.row.SingularOps_DDRM.singularValues(dense);
                double expected = java.util.Arrays.stream(sigma).max().orElseThrow() / java.util.Arrays.stream(sigma).min().orElseThrow();
                assertEquals(expected, ConditionNumber.of(matrix), expected * 1e-6, rows + " x " + cols + ", spread " + spread);
            }
        }
    }

    @Test
    void repetitiveTextHasLowerNgramEntropyThanVariedText() {
        String repetitive = String.join(" ", Collections.nCopies(20, "the dog ran"));
        String varied = "once upon a time there was a little girl named lily she loved to play outside in the park "
                + "with her red ball and her best friend tom who liked to climb trees and eat cookies every day";
        assertTrue(Fluency.ngramEntropy(repetitive) < 2.0, "three distinct n-grams at most");
        assertTrue(Fluency.ngramEntropy(varied) > 4.0);
    }

    @Test
    void scoresPerplexityAndLocalityOnTheRealModel() throws IOException {
        try (LanguageModel model = Stories.load(); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            String story = Files.readString(Stories.shared().resolve("models/stories260K/greedy-reference.txt"));
            List<String> words = new ArrayList<>(List.of(story.split(" ")));
            Collections.shuffle(words, new Random(1));
            double own = Perplexity.of(model, manager, story, 128, 400);
            double shuffled = Perplexity.of(model, manager, String.join(" ", words), 128, 400);
            assertTrue(own < 3 && shuffled > 3 * own, "its own greedy text is predictable: " + own + " vs " + shuffled);

            String prompt = "Once upon a time,";
            String continuation = new TextSampler(model, 1).continueAll(manager, List.of(prompt), 4, 0).get(0).substring(prompt.length());
            ContinuationScorer.Score greedy = new ContinuationScorer(model, manager).score(new ContinuationScorer.Query(prompt, continuation));
            assertEquals(1.0, greedy.accuracy(), "the greedy continuation is top-1 at every step: '" + continuation + "'");

            Locality.Reference reference = Locality.reference(model, manager, List.of(prompt, "The cat sat on the"));
            Locality.Result unchanged = Locality.measure(model, manager, reference);
            assertEquals(1.0, unchanged.topOneAgreement());
            assertEquals(0.0, unchanged.meanKl(), 1e-6);
        }
    }
}

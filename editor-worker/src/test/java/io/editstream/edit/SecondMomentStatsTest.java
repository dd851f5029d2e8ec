package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecondMomentStatsTest {

    @TempDir
    Path cache;

    @Test
    void cacheFileRoundTripsAndLeavesNoTemporaryFiles() throws IOException {
        FloatMatrix c0 = new FloatMatrix(3, 3, new float[] {1, 2, 3, 2, 5, 6, 3, 6, 9});
        Path file = SecondMomentStats.cacheFile(cache, "abc", 2, SecondMomentStats.sha256("corpus"), 1000);
        SecondMomentStats.write(file, c0);
        assertEquals(c0, SecondMomentStats.read(file, 3));
        try (var files = Files.list(cache)) {
            assertEquals(1, files.count());
        }
        IllegalStateException wrongShape = assertThrows(IllegalStateException.class, () -> SecondMomentStats.read(file, 4));
        assertEquals(true, wrongShape.getMessage().contains("expected 4x4"));
    }

    /**
     * A corpus in some order (the testbed's facts come case by case): fewer samples than positions take lines from
     * all of it, so C0 of half the positions is near C0 of all of them and far from C0 of the first half.
     */
    @Test
    void samplesAreSpreadOverTheWholeCorpus() {
        String first = String.join("\n", java.util.Collections.nCopies(20, "Tim had a red ball and a big dog."));
        String second = String.join("\n", java.util.Collections.nCopies(20, "The sun was hot, so Sue sat under a tree."));
        try (LanguageModel model = Stories.load(); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            int[] layer = {Stories.HYPERPARAMETERS.layers().get(0)};
            int positions = 20 * (model.tokenizer().encode(first.lines().findFirst().orElseThrow(), true).length
                    + model.tokenizer().encode(second.lines().findFirst().orElseThrow(), true).length);
            FloatMatrix all = SecondMomentStats.compute(manager, model, layer, first + "\n" + second, positions, 128).get(layer[0]);
            FloatMatrix half = SecondMomentStats.compute(manager, model, layer, first + "\n" + second, positions / 2, 128).get(layer[0]);
            FloatMatrix firstPart = SecondMomentStats.compute(manager, model, layer, first, positions, 128).get(layer[0]);
            double spread = distance(half, all);
            assertTrue(spread < 0.02 * norm(all), "half the samples are near C0 of the whole corpus: " + spread);
            assertTrue(distance(firstPart, all) > 10 * spread, "the first part alone is another C0");
        }
    }

    /**
     * The blocked, striped accumulation is Σ k kᵀ / n: against a float64 sum row by row, over key blocks that cross a
     * product's boundary and a width that the stripes do not divide evenly; symmetric exactly, and the same bits again.
     */
    @Test
    void accumulationIsTheMeanOuterProductOfTheKeys() {
        int dim = 37;
        int[] blockRows = {3000, 2500, 1700};
        java.util.Random random = new java.util.Random(7);
        float[][] blocks = new float[blockRows.length][];
        for (int b = 0; b < blocks.length; b++) {
            blocks[b] = new float[blockRows[b] * dim];
            for (int i = 0; i < blocks[b].length; i++) {
                blocks[b][i] = (float) random.nextGaussian();
            }
        }
        double[] expected = new double[dim * dim];
        long count = 0;
        for (int b = 0; b < blocks.length; b++) {
            for (int r = 0; r < blockRows[b]; r++, count++) {
                for (int i = 0; i < dim; i++) {
                    for (int j = 0; j < dim; j++) {
                        expected[i * dim + j] += (double) blocks[b][r * dim + i] * blocks[b][r * dim + j];
                    }
                }
            }
        }
        FloatMatrix first = null;
        for (int run = 0; run < 2; run++) {
            try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
                SecondMomentStats.Accumulator accumulator = new SecondMomentStats.Accumulator(manager, dim);
                for (int b = 0; b < blocks.length; b++) {
                    accumulator.add(manager.create(blocks[b], new ai.djl.ndarray.types.Shape(blockRows[b], dim)));
                }
                FloatMatrix mean = accumulator.mean(count);
                for (int i = 0; i < dim; i++) {
                    for (int j = 0; j < dim; j++) {
                        assertEquals(expected[i * dim + j] / count, mean.get(i, j), 1e-4, "entry " + i + ", " + j);
                        assertEquals(mean.get(i, j), mean.get(j, i));
                    }
                }
                if (first == null) {
                    first = mean;
                } else {
                    assertEquals(first, mean, "the same keys, the same bits");
                }
            }
        }
    }

    private static double distance(FloatMatrix a, FloatMatrix b) {
        double sum = 0;
        for (int i = 0; i < a.data().length; i++) {
            sum += Math.pow(a.data()[i] - b.data()[i], 2);
        }
        return Math.sqrt(sum);
    }

    private static double norm(FloatMatrix a) {
        double sum = 0;
        for (float v : a.data()) {
            sum += (double) v * v;
        }
        return Math.sqrt(sum);
    }

    @Test
    void cacheKeyCoversModelLayerCorpusAndSampleCount() {
        String corpus = SecondMomentStats.sha256("corpus");
        Path base = SecondMomentStats.cacheFile(cache, "abc", 2, corpus, 1000);
        assertNotEquals(base, SecondMomentStats.cacheFile(cache, "abd", 2, corpus, 1000));
        assertNotEquals(base, SecondMomentStats.cacheFile(cache, "abc", 3, corpus, 1000));
        assertNotEquals(base, SecondMomentStats.cacheFile(cache, "abc", 2, SecondMomentStats.sha256("other"), 1000));
        assertNotEquals(base, SecondMomentStats.cacheFile(cache, "abc", 2, corpus, 1001));
    }
}

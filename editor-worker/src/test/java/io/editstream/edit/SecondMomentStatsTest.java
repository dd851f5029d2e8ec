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

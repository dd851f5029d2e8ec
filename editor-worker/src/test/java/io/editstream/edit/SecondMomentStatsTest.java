package io.editstream.edit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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

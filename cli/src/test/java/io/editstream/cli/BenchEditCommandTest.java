package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.edit.EditHyperparameters;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How {@code bench edit --model} names the repository's testbed and picks its hyperparameters. */
class BenchEditCommandTest {
    @TempDir
    Path dir;

    @Test
    void testbedResolvesToTheCheckoutsModelDirectory() {
        Path resolved = ModelOptions.resolve(Path.of("testbed"));

        assertTrue(Files.isRegularFile(resolved.resolve("config.json")), resolved.toString());
        assertEquals(Path.of("models", "testbed"), resolved.subpath(resolved.getNameCount() - 2, resolved.getNameCount()));
        assertTrue(BenchEditCommand.isTestbed(resolved));
    }

    @Test
    void otherPathsAreLeftAsGiven() {
        Path missing = dir.resolve("no-such-model");

        assertEquals(missing, ModelOptions.resolve(missing));
        assertEquals(Path.of("stories260K"), ModelOptions.resolve(Path.of("stories260K")));
    }

    @Test
    void onlyAHuggingFaceDirectoryNamedTestbedIsTheTestbed() throws IOException {
        Path bare = Files.createDirectories(dir.resolve("testbed"));
        Path other = Files.createDirectories(dir.resolve("llama"));
        Files.writeString(other.resolve("config.json"), "{}");

        assertFalse(BenchEditCommand.isTestbed(bare));
        assertFalse(BenchEditCommand.isTestbed(other));
        Files.writeString(bare.resolve("config.json"), "{}");
        assertTrue(BenchEditCommand.isTestbed(bare));
    }

    @Test
    void theTestbedsHyperparametersLoad() {
        EditHyperparameters testbed = EditHyperparameters.load("testbed");

        assertTrue(testbed.targetLayer() < 3, "the testbed has 4 layers; targets after the last one are not optimisable");
    }
}

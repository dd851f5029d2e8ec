package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import org.junit.jupiter.api.Test;

/** {@code editstream generate} prints what llama2.c's reference implementation prints for stories260K. */
class GenerateCommandTest {

    @Test
    void greedyStories260KMatchesTheReferenceByteForByte() throws Exception {
        var modelDir = SharedData.file("models/stories260K/stories260K.bin").getParent();
        byte[] reference = Files.readAllBytes(modelDir.resolve("greedy-reference.txt"));

        CommandLineTest.Run run = CommandLineTest.run("generate", "--model", modelDir.toString(), "--max-tokens", "256");

        assertEquals(0, run.exitCode(), run.err());
        assertArrayEquals(reference, run.out().getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aMissingModelIsOneClearLine() {
        CommandLineTest.Run run = CommandLineTest.run("generate", "--model", "/nonexistent/model");

        assertEquals(EditstreamCommand.EXIT_FAILURE, run.exitCode());
        assertTrue(run.err().contains("/nonexistent/model"), run.err());
        assertEquals(1, run.err().strip().lines().count(), run.err());
    }
}

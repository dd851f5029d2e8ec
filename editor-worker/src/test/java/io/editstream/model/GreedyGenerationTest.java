package io.editstream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.model.format.ModelLoader;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class GreedyGenerationTest {

    @Test
    void stories260kGreedyOutputMatchesLlama2cByteForByte() throws Exception {
        Path dir = SharedData.resolve("models/stories260K");
        byte[] reference = Files.readAllBytes(dir.resolve("greedy-reference.txt"));
        try (LanguageModel model = ModelLoader.load(dir, Device.cpu());
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            Generation generation = new Generator(model).greedy(manager, "", 256);
            assertEquals(new String(reference, java.nio.charset.StandardCharsets.UTF_8), new String(generation.printed(), java.nio.charset.StandardCharsets.UTF_8));
            assertArrayEquals(reference, generation.printed());
        }
    }
}

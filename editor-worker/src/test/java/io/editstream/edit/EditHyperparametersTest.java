package io.editstream.edit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hyperparameters come from a named resource or, for tuning, from a JSON file of the same shape. */
class EditHyperparametersTest {

    @Test
    void aJsonFileLoadsLikeTheResourceItWasCopiedFrom(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tuning.json");
        try (InputStream in = EditHyperparameters.class.getResourceAsStream("/hyperparameters/testbed.json")) {
            Files.copy(in, file);
        }
        assertEquals(EditHyperparameters.load("testbed"), EditHyperparameters.load(file.toString()));
    }

    @Test
    void anUnknownNameOrABrokenFileIsAClearError(@TempDir Path dir) throws Exception {
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> EditHyperparameters.load("no-such-model"));
        assertTrue(unknown.getMessage().contains("no hyperparameters named 'no-such-model'"), unknown.getMessage());
        Path broken = Files.writeString(dir.resolve("broken.json"), "{\"layers\": [0]}");
        IllegalArgumentException message = assertThrows(IllegalArgumentException.class, () -> EditHyperparameters.load(broken.toString()));
        assertTrue(message.getMessage().contains("broken.json"), message.getMessage());
    }
}

package io.editstream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.edit.EditHyperparameters;
import io.editstream.edit.Editor;
import io.editstream.model.format.ModelLoader;
import io.editstream.model.format.SafetensorsFile;
import io.editstream.model.llama.LlamaConfig;
import io.editstream.model.llama.LlamaModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Attention-only blocks (a per-block {@code intermediate_size} of 0): the same output as a block whose MLP writes
 * zero, nothing stored for them, written and read back, and a clear error wherever an MLP they lack is asked for.
 */
class LayersWithoutMlpTest {

    private static final TokenBatch BATCH = TokenBatch.of(new int[] {1, 40, 41, 300, 7, 99}, new int[] {1, 250, 12});

    @Test
    void aBlockWithoutAnMlpComputesWhatABlockWithAZeroMlpDoes() throws Exception {
        try (LanguageModel without = TestModels.randomLlamaWithoutMlpIn(21, List.of(1));
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            assertFalse(without.config().hasMlp(1));
            assertTrue(without.config().hasMlp(0) && without.config().hasMlp(2));
            ModelConfig full = new ModelConfig(ModelFamily.LLAMA, "LlamaForCausalLM", 512, 48, 96, 3, 6, 6, 128,
                    1e-5f, 10000f, true, false, 1, 2, 0, List.of(), List.of());
            NDManager weightsManager = NDManager.newBaseManager(Device.cpu());
            Map<String, NDArray> tensors = new HashMap<>();
            without.weights().forEach((name, weight) -> tensors.put(name, weight.duplicate()));
            tensors.values().forEach(weight -> weight.attach(weightsManager));
            String p = LlamaConfig.layerPrefix(1);
            tensors.put(p + "post_attention_layernorm.weight", weightsManager.ones(new Shape(48)));
            tensors.put(p + "mlp.gate_proj.weight", weightsManager.randomNormal(new Shape(96, 48)));
            tensors.put(p + "mlp.up_proj.weight", weightsManager.randomNormal(new Shape(96, 48)));
            tensors.put(p + "mlp.down_proj.weight", weightsManager.zeros(new Shape(48, 96)));
            try (LanguageModel zeroMlp = new LlamaModel(full, new Weights(weightsManager, tensors), TestModels.storiesTokenizer(512))) {
                assertArrayEquals(zeroMlp.forward(manager, BATCH, Probe.none()).logits().toFloatArray(),
                        without.forward(manager, BATCH, Probe.none()).logits().toFloatArray(), "x + 0 is x, bit for bit");
            }
        }
    }

    @Test
    void perBlockWidthsAreWrittenAndReadBackWithNothingStoredForTheMissingMlp(@TempDir Path dir) throws Exception {
        try (LanguageModel original = TestModels.randomLlamaWithoutMlpIn(22, List.of(1));
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            float[] expected = original.forward(manager, BATCH, Probe.none()).logits().toFloatArray();
            ModelConfig config = original.config();
            try (LanguageModel loaded = TestModels.throughHfFiles(TestModels.randomLlamaWithoutMlpIn(22, List.of(1)), dir)) {
                JsonNode json = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
                assertEquals("[96,0,96]", json.get("intermediate_size").toString());
                assertEquals(config, loaded.config());
                assertArrayEquals(expected, loaded.forward(manager, BATCH, Probe.none()).logits().toFloatArray());
                try (SafetensorsFile file = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
                    assertTrue(file.entries().keySet().stream().noneMatch(name -> name.startsWith("model.layers.1.mlp.")), file.entries().keySet().toString());
                    assertTrue(file.entries().containsKey("model.layers.2.mlp.down_proj.weight"));
                }
            }
        }
    }

    @Test
    void askingForTheMissingMlpIsAClearError() throws Exception {
        try (LanguageModel model = TestModels.randomLlamaWithoutMlpIn(23, List.of(1));
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            assertError("layer 1 has no MLP", () -> model.mlpOutputWeight(manager, 1));
            assertError("layer 1 has no MLP", () -> model.addToMlpOutputWeight(1, manager.zeros(new Shape(48)), manager.zeros(new Shape(96))));
            assertError("MLP key capture at layer 1, which has no MLP", () -> model.forward(manager, BATCH, Probe.none().captureMlpKeys(1)));
            EditHyperparameters stories = EditHyperparameters.load("llama2c-stories");
            EditHyperparameters onLayer1 = new EditHyperparameters("test", List.of(1), stories.lambda(), stories.target(),
                    stories.contextTemplates(), stories.secondMoment(), stories.nse(), stories.alphaEdit(), stories.prune());
            assertError("edit layer 1 has no MLP", () -> Editor.create("memit", model, onLayer1, Map.of(), manager, 1));
        }
    }

    @Test
    void badPerBlockWidthsAreClearErrors(@TempDir Path dir) throws Exception {
        String base = "\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 512, \"hidden_size\": 48, "
                + "\"num_hidden_layers\": 3, \"num_attention_heads\": 6";
        assertConfigError(dir, "{" + base + ", \"intermediate_size\": [96, 0]}", "intermediate_size names 2 layers, the model has 3");
        assertConfigError(dir, "{" + base + ", \"intermediate_size\": [96, 0, 64]}", "blocks of different MLP widths are not supported");
        assertConfigError(dir, "{" + base + ", \"intermediate_size\": [0, 0, 0]}", "gives no block an MLP");
        assertConfigError(dir, "{" + base + ", \"intermediate_size\": [96, -1, 96]}", "intermediate_size of layer 1 is -1");
    }

    private static void assertError(String expected, Runnable action) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, action::run);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    private static void assertConfigError(Path dir, String json, String expected) throws Exception {
        Files.writeString(dir.resolve("config.json"), json);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelLoader.load(dir, Device.cpu()));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}

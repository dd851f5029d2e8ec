package io.editstream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.model.format.ModelLoader;
import io.editstream.model.llama.LlamaConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Blocks that attend over a sliding window: what they can see, how they are written and read, and bad configs. */
class SlidingWindowAttentionTest {

    @Test
    void aSlidingBlockSeesOnlyTheLastWindowPositions() {
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            boolean[][] real = {{true, true, true, true, true}, {true, true, true, false, false}};
            float[] mask = Attention.mask(manager, real, 0, 5, 2).toFloatArray();
            // row 0, query 4 reads keys 3 and 4 only
            assertTrue(Float.isInfinite(mask[4 * 5 + 2]));
            assertEquals(0f, mask[4 * 5 + 3]);
            assertEquals(0f, mask[4 * 5 + 4]);
            // row 1, padded query 4: its window holds no real key, so it reads itself rather than nothing
            int row1 = 5 * 5;
            assertTrue(Float.isInfinite(mask[row1 + 4 * 5 + 3]));
            assertEquals(0f, mask[row1 + 4 * 5 + 4]);
            // without a window, query 4 of row 0 reads every key
            float[] full = Attention.mask(manager, real, 0, 5, 0).toFloatArray();
            assertArrayEquals(new float[5], Arrays.copyOfRange(full, 4 * 5, 5 * 5));
        }
    }

    @Test
    void aTokenBeyondTheReceptiveFieldDoesNotChangeTheOutput() throws Exception {
        // two sliding blocks of window 2 then one full block: the last position's output depends on every token
        // (the full block), but the residual after block 1 at position p depends only on positions p-2..p.
        try (LanguageModel model = TestModels.randomSlidingWindowLlama(5, 2);
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            int[] tokens = {1, 300, 301, 302, 303, 304, 305};
            int[] farChanged = tokens.clone();
            farChanged[3] = 400;
            int[] nearChanged = tokens.clone();
            nearChanged[5] = 400;
            float[] original = residualAfterBlock1(model, manager, tokens, 6);
            assertArrayEquals(original, residualAfterBlock1(model, manager, farChanged, 6), 0f);
            assertTrue(maxDifference(original, residualAfterBlock1(model, manager, nearChanged, 6)) > 1e-3);
            float[] lastLogits = lastLogits(model, manager, tokens);
            assertTrue(maxDifference(lastLogits, lastLogits(model, manager, farChanged)) > 1e-3,
                    "the full block above reads every position");
        }
    }

    @Test
    void windowsAreWrittenAsLayerTypesAndReadBack(@TempDir Path dir) throws Exception {
        try (LanguageModel original = TestModels.randomSlidingWindowLlama(3, 2);
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            int[] tokens = original.tokenizer().encode("Tim and Sue played in the sand all day long.", true);
            float[] expected = lastLogits(original, manager, tokens);
            ModelConfig config = original.config();
            try (LanguageModel loaded = TestModels.throughHfFiles(TestModels.randomSlidingWindowLlama(3, 2), dir)) {
                JsonNode json = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
                assertEquals("[\"sliding_attention\",\"sliding_attention\",\"full_attention\"]", json.get("layer_types").toString());
                assertEquals(2, json.get("sliding_window").asInt());
                assertEquals(config, loaded.config());
                assertArrayEquals(expected, lastLogits(loaded, manager, tokens), 0f);
            }
        }
    }

    @Test
    void mistralWithoutLayerTypesSlidesEveryBlock() throws Exception {
        JsonNode json = new ObjectMapper().readTree("{\"architectures\": [\"MistralForCausalLM\"], \"vocab_size\": 512, \"hidden_size\": 48, "
                + "\"intermediate_size\": 96, \"num_hidden_layers\": 3, \"num_attention_heads\": 6, \"sliding_window\": 4}");
        ModelConfig config = LlamaConfig.fromHuggingFace(json, "MistralForCausalLM", "config.json");
        assertEquals(List.of(0, 1, 2), config.slidingLayers());
        assertEquals(4, config.attentionWindow(2));
    }

    @Test
    void inconsistentWindowsAreClearErrors(@TempDir Path dir) throws Exception {
        String base = "\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 512, \"hidden_size\": 48, "
                + "\"intermediate_size\": 96, \"num_hidden_layers\": 3, \"num_attention_heads\": 6";
        assertConfigError(dir, "{" + base + ", \"sliding_window\": 2, \"layer_types\": [\"sliding_attention\"]}",
                "layer_types names 1 layers, the model has 3");
        assertConfigError(dir, "{" + base + ", \"layer_types\": [\"sliding_attention\", \"full_attention\", \"full_attention\"]}",
                "layers [0] are sliding_attention but sliding_window is");
        assertConfigError(dir, "{" + base + ", \"sliding_window\": 2, \"layer_types\": [\"chunked_attention\", \"full_attention\", \"full_attention\"]}",
                "layer type chunked_attention of layer 0");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ModelConfig(ModelFamily.LLAMA,
                "LlamaForCausalLM", 512, 48, 96, 3, 6, 6, 128, 1e-5f, 10000f, true, false, 1, 2, 2, List.of(3), List.of()));
        assertTrue(e.getMessage().contains("sliding layer 3 outside 0..2"), e.getMessage());
    }

    @Test
    void incrementalDecodingAndPaddedBatchesAgreeWithTheFullPass() throws Exception {
        try (LanguageModel model = TestModels.randomSlidingWindowLlama(9, 3);
             NDManager manager = NDManager.newBaseManager(Device.cpu());
             NDManager scope = manager.newSubManager()) {
            int[] longRow = model.tokenizer().encode("One day, a girl found a shiny stone in the garden.", true);
            int[] shortRow = model.tokenizer().encode("The sun", true);
            float[] alone = model.forward(scope, TokenBatch.of(shortRow), Probe.none()).logits().toFloatArray();
            float[] inBatch = model.forward(scope, TokenBatch.of(longRow, shortRow), Probe.none()).logits()
                    .get("1, :{}", shortRow.length).toFloatArray();
            assertTrue(maxDifference(alone, inBatch) < 1e-4, "padded row differs from the row alone");

            float[] full = model.forward(scope, TokenBatch.of(longRow), Probe.none()).logits().get("0, -1").toFloatArray();
            try (KvCache cache = model.newKvCache(manager, 1, longRow.length)) {
                float[] last = null;
                for (int token : longRow) {
                    last = model.forward(scope, TokenBatch.of(new int[] {token}), cache).get("0, 0").toFloatArray();
                }
                assertTrue(maxDifference(full, last) < 1e-4, "token-by-token decoding differs from the full pass");
            }
        }
    }

    private static void assertConfigError(Path dir, String json, String expected) throws Exception {
        Files.writeString(dir.resolve("config.json"), json);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelLoader.load(dir, Device.cpu()));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    private static float[] residualAfterBlock1(LanguageModel model, NDManager manager, int[] tokens, int position) {
        ForwardResult result = model.forward(manager, TokenBatch.of(tokens), Probe.none().captureResidual(1));
        return result.residual(1).get("0, " + position).toFloatArray();
    }

    private static float[] lastLogits(LanguageModel model, NDManager manager, int[] tokens) {
        return model.forward(manager, TokenBatch.of(tokens), Probe.none()).logits().get("0, -1").toFloatArray();
    }

    private static float maxDifference(float[] a, float[] b) {
        float worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }
}

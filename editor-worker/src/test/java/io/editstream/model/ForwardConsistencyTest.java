package io.editstream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The three ways of running the same tokens (full, incremental with a KV cache, padded in a batch) agree. */
class ForwardConsistencyTest {

    private static final float TOLERANCE = 1e-4f;

    @Test
    void llamaIncrementalDecodingMatchesFullForward() throws Exception {
        try (LanguageModel model = TestModels.stories260k()) {
            int[] tokens = model.tokenizer().encode("Once upon a time, there was a little dog named Max. He liked to run.", true);
            assertIncrementalMatchesFull(model, tokens);
        }
    }

    @Test
    void gpt2IncrementalDecodingMatchesFullForward(@TempDir Path dir) throws Exception {
        try (LanguageModel model = TestModels.throughHfFiles(TestModels.randomGpt2(7), dir)) {
            int[] tokens = model.tokenizer().encode("The Eiffel Tower is located in the city of Paris, France.", true);
            assertIncrementalMatchesFull(model, tokens);
        }
    }

    @Test
    void qwen2StyleIncrementalDecodingMatchesFullForward(@TempDir Path dir) throws Exception {
        try (LanguageModel model = TestModels.throughHfFiles(TestModels.randomQwen2(13), dir)) {
            assertTrue(model.weights().containsKey("lm_head.weight"));
            assertTrue(model.weights().containsKey("model.layers.2.self_attn.k_proj.bias"));
            int[] tokens = model.tokenizer().encode("Tim and Sue played in the sand all day long.", true);
            assertIncrementalMatchesFull(model, tokens);
        }
    }

    @Test
    void qwen2StyleBatchedPaddedForwardMatchesEachRowAlone() throws Exception {
        try (LanguageModel model = TestModels.randomQwen2(17)) {
            assertBatchedMatchesUnbatched(model);
        }
    }

    @Test
    void llamaBatchedPaddedForwardMatchesEachRowAlone() throws Exception {
        try (LanguageModel model = TestModels.stories260k()) {
            assertBatchedMatchesUnbatched(model);
        }
    }

    @Test
    void gpt2BatchedPaddedForwardMatchesEachRowAlone() throws Exception {
        try (LanguageModel model = TestModels.randomGpt2(11)) {
            assertBatchedMatchesUnbatched(model);
        }
    }

    @Test
    void forwardIsDeterministicOnCpu() throws Exception {
        try (LanguageModel model = TestModels.stories260k(); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            TokenBatch batch = TokenBatch.of(model.tokenizer().encode("Lily saw a bird.", true), model.tokenizer().encode("Tom ran home fast.", true));
            float[] first = model.forward(manager, batch, Probe.none()).logits().toFloatArray();
            float[] second = model.forward(manager, batch, Probe.none()).logits().toFloatArray();
            assertArrayEquals(first, second, 0f);
        }
    }

    @Test
    void cacheRejectsMoreTokensThanItsCapacity() throws Exception {
        try (LanguageModel model = TestModels.stories260k(); NDManager manager = NDManager.newBaseManager(Device.cpu());
             KvCache cache = model.newKvCache(manager, 1, 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> model.forward(manager, TokenBatch.of(new int[] {1, 300, 301, 302, 303}), cache));
            assertTrue(e.getMessage().contains("capacity 4"), e.getMessage());
        }
    }

    /** Prefill the first third in one chunk, then one token at a time; every position's logits match the full pass. */
    private static void assertIncrementalMatchesFull(LanguageModel model, int[] tokens) {
        int vocab = model.config().vocabSize();
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            float[] full = model.forward(manager, TokenBatch.of(tokens), Probe.none()).logits().toFloatArray();
            int prefill = tokens.length / 3;
            try (KvCache cache = model.newKvCache(manager, 1, tokens.length)) {
                int[] chunk = java.util.Arrays.copyOf(tokens, prefill);
                float[] incremental = new float[tokens.length * vocab];
                NDArray first = model.forward(manager, TokenBatch.of(chunk), cache);
                assertEquals(new ai.djl.ndarray.types.Shape(1, prefill, vocab), first.getShape());
                System.arraycopy(first.toFloatArray(), 0, incremental, 0, prefill * vocab);
                for (int pos = prefill; pos < tokens.length; pos++) {
                    try (NDManager step = manager.newSubManager()) {
                        float[] logits = model.forward(step, TokenBatch.of(new int[] {tokens[pos]}), cache).toFloatArray();
                        System.arraycopy(logits, 0, incremental, pos * vocab, vocab);
                    }
                }
                assertEquals(tokens.length, cache.length());
                assertClose(full, incremental, "incremental vs full");
            }
        }
    }

    private static void assertBatchedMatchesUnbatched(LanguageModel model) {
        TextTokenizer tokenizer = model.tokenizer();
        int[][] rows = {
            tokenizer.encode("One day, a girl found a shiny stone in the garden.", true),
            tokenizer.encode("The sun", true),
            tokenizer.encode("He was happy.", true),
        };
        int vocab = model.config().vocabSize();
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            TokenBatch batch = TokenBatch.of(rows);
            NDArray batched = model.forward(manager, batch, Probe.none()).logits();
            assertEquals(new ai.djl.ndarray.types.Shape(rows.length, batch.maxLength(), vocab), batched.getShape());
            for (int r = 0; r < rows.length; r++) {
                float[] alone = model.forward(manager, TokenBatch.of(rows[r]), Probe.none()).logits().toFloatArray();
                float[] inBatch = batched.get("{}, :{}", r, rows[r].length).toFloatArray();
                assertClose(alone, inBatch, "row " + r);
            }
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        float worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst < TOLERANCE, what + ": max |difference| " + worst);
    }
}

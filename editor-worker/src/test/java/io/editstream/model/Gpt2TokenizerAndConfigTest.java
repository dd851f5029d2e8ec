package io.editstream.model;

import io.editstream.model.format.HuggingFaceCheckpoint;
import io.editstream.model.gpt2.Gpt2Config;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The real GPT-2 tokenizer and gpt2-xl config from ../shared. */
class Gpt2TokenizerAndConfigTest {

    private static final Path DIR = SharedData.resolve("models/gpt2-tokenizer");

    @Test
    void gpt2TokenizerLoadsAndRoundTripsText() throws Exception {
        try (TextTokenizer tokenizer = HuggingFaceTextTokenizer.fromJson(
                Files.readString(DIR.resolve("tokenizer.json"), StandardCharsets.UTF_8), "gpt2 tokenizer.json", 50256, 50256)) {
            assertEquals(50257, tokenizer.vocabSize());
            assertArrayEquals(new int[] {15496, 995}, tokenizer.encode("Hello world", false));
            assertArrayEquals(new int[] {50256, 15496, 995}, tokenizer.encode("Hello world", true));
            for (String text : new String[] {
                "The Eiffel Tower is located in Paris.",
                "  leading spaces, tabs\tand\nnewlines",
                "Zürich, 東京 and emoji 🙂 survive byte-level BPE",
            }) {
                assertEquals(text, tokenizer.decode(tokenizer.encode(text, false)), text);
            }
            // decoding drops the special tokens
            assertEquals("Hello world", tokenizer.decode(tokenizer.encode("Hello world", true)));
        }
    }

    @Test
    void gpt2XlConfigParsesWithTheRightShapes() throws Exception {
        ModelConfig config = HuggingFaceCheckpoint.readConfig(DIR);
        assertEquals(ModelFamily.GPT2, config.family());
        assertEquals("GPT2LMHeadModel", config.architecture());
        assertEquals(50257, config.vocabSize());
        assertEquals(1600, config.dim());
        assertEquals(6400, config.mlpDim());
        assertEquals(48, config.layers());
        assertEquals(25, config.heads());
        assertEquals(64, config.headDim());
        assertEquals(1024, config.maxSeqLen());
        assertEquals(1e-5f, config.normEps());
        assertEquals(50256, config.bosId());
        var shapes = Gpt2Config.tensorShapes(config);
        assertEquals(new ai.djl.ndarray.types.Shape(1600, 4800), shapes.get("transformer.h.47.attn.c_attn.weight"));
        assertEquals(new ai.djl.ndarray.types.Shape(6400, 1600), shapes.get("transformer.h.13.mlp.c_proj.weight"));
        long parameters = shapes.values().stream().mapToLong(ai.djl.ndarray.types.Shape::size).sum();
        // GPT-2 XL: 1,557,611,200 parameters (the published count)
        assertEquals(1_557_611_200L, parameters);
    }
}

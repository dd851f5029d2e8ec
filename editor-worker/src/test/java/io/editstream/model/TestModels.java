package io.editstream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.editstream.model.format.HuggingFaceCheckpoint;
import io.editstream.model.format.ModelLoader;
import io.editstream.model.gpt2.Gpt2Config;
import io.editstream.model.gpt2.Gpt2Model;
import io.editstream.model.llama.Llama2cTokenizer;
import io.editstream.model.llama.LlamaConfig;
import io.editstream.model.llama.LlamaModel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** The models the tests run: the real stories260K, and a small randomly initialised GPT-2 with the real GPT-2 tokenizer. */
final class TestModels {

    private TestModels() {
    }

    static LanguageModel stories260k() throws IOException {
        return ModelLoader.load(SharedData.resolve("models/stories260K"), Device.cpu());
    }

    /** A 2-layer GPT-2 (dim 32, 4 heads, 64 positions) with seeded random weights and the real GPT-2 tokenizer. */
    static LanguageModel randomGpt2(long seed) throws IOException {
        ModelConfig config = new ModelConfig(ModelFamily.GPT2, Gpt2Config.ARCHITECTURE, 50257, 32, 128, 2, 4, 4, 64,
                1e-5f, 0f, true, true, 50256, 50256);
        Path tokenizerFile = SharedData.resolve("models/gpt2-tokenizer/tokenizer.json");
        TextTokenizer tokenizer = HuggingFaceTextTokenizer.fromJson(Files.readString(tokenizerFile, StandardCharsets.UTF_8),
                tokenizerFile.toString(), config.bosId(), config.eosId());
        return new Gpt2Model(config, randomWeights(Gpt2Config.tensorShapes(config), seed), tokenizer);
    }

    /**
     * A 3-layer Qwen2-style Llama (q/k/v biases, grouped-query attention 6/2, untied head, rope_theta 1e6) with seeded
     * random weights and the stories260K tokenizer.
     */
    static LanguageModel randomQwen2(long seed) throws IOException {
        ModelConfig config = new ModelConfig(ModelFamily.LLAMA, "Qwen2ForCausalLM", 512, 48, 96, 3, 6, 2, 128,
                1e-6f, 1_000_000f, false, true, 1, 2);
        return new LlamaModel(config, randomWeights(LlamaConfig.tensorShapes(config), seed), storiesTokenizer(config.vocabSize()));
    }

    /**
     * A 3-layer Llama whose first two blocks attend over a sliding window of {@code window} positions (HuggingFace
     * {@code layer_types}), with seeded random weights and the stories260K tokenizer.
     */
    static LanguageModel randomSlidingWindowLlama(long seed, int window) throws IOException {
        ModelConfig config = new ModelConfig(ModelFamily.LLAMA, "LlamaForCausalLM", 512, 48, 96, 3, 6, 6, 128,
                1e-5f, 10000f, true, false, 1, 2, window, List.of(0, 1), List.of());
        return new LlamaModel(config, randomWeights(LlamaConfig.tensorShapes(config), seed), storiesTokenizer(config.vocabSize()));
    }

    /** A 3-layer Llama whose {@code withoutMlp} blocks are attention only, with seeded random weights and the stories260K tokenizer. */
    static LanguageModel randomLlamaWithoutMlpIn(long seed, List<Integer> withoutMlp) throws IOException {
        ModelConfig config = new ModelConfig(ModelFamily.LLAMA, "LlamaForCausalLM", 512, 48, 96, 3, 6, 6, 128,
                1e-5f, 10000f, true, false, 1, 2, 0, List.of(), withoutMlp);
        return new LlamaModel(config, randomWeights(LlamaConfig.tensorShapes(config), seed), storiesTokenizer(config.vocabSize()));
    }

    /** The stories260K tokenizer (512 tokens). */
    static TextTokenizer storiesTokenizer(int vocabSize) throws IOException {
        return Llama2cTokenizer.read(SharedData.resolve("models/stories260K").resolve("tok512.bin"), vocabSize);
    }

    /** Norm gains near 1, everything else N(0, 0.2²) so activations are neither tiny nor saturated. */
    private static Weights randomWeights(Map<String, Shape> shapes, long seed) {
        Random random = new Random(seed);
        NDManager manager = NDManager.newBaseManager(Device.cpu());
        Map<String, NDArray> tensors = new HashMap<>();
        shapes.forEach((name, shape) -> {
            boolean gain = name.endsWith("norm.weight") || name.contains("ln_") && name.endsWith("weight");
            float[] values = new float[Math.toIntExact(shape.size())];
            for (int i = 0; i < values.length; i++) {
                values[i] = gain ? 1f + 0.1f * (float) random.nextGaussian() : 0.2f * (float) random.nextGaussian();
            }
            tensors.put(name, manager.create(values, shape));
        });
        return new Weights(manager, tensors);
    }

    /** A model written by the HF writer and loaded back through the HF loader. */
    static LanguageModel throughHfFiles(LanguageModel model, Path dir) throws IOException {
        try (model) {
            HuggingFaceCheckpoint.write(model, dir);
        }
        return ModelLoader.load(dir, Device.cpu());
    }
}

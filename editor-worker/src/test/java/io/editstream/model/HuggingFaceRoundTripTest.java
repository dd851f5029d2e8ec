package io.editstream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.editstream.model.format.HuggingFaceCheckpoint;
import io.editstream.model.format.ModelLoader;
import io.editstream.model.format.SafetensorsWriter;
import io.editstream.model.format.StoredType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** stories260K written in HuggingFace layout by our writer and read back by the HF loader (DJL tokenizers included). */
class HuggingFaceRoundTripTest {

    private static final List<String> SENTENCES = List.of(
            "Once upon a time, there was a little girl named Lily.",
            "The cat sat on the mat and looked at the big red ball!",
            "  two leading spaces, \"quotes\" and a newline\nhere",
            "Ünïcödé fällback: 日本 ✓",
            "x");

    @Test
    void writtenCheckpointLoadsThroughHfLoaderAndGeneratesTheSameText(@TempDir Path dir) throws Exception {
        Path reference = SharedData.resolve("models/stories260K/greedy-reference.txt");
        try (LanguageModel original = TestModels.stories260k()) {
            HuggingFaceCheckpoint.write(original, dir);
            assertTrue(Files.isRegularFile(dir.resolve("config.json")));
            assertTrue(Files.isRegularFile(dir.resolve("model.safetensors")));
            assertTrue(Files.isRegularFile(dir.resolve("tokenizer.json")));
            // the classifier is the token embedding: written once
            assertFalse(original.weights().containsKey("lm_head.weight"));

            try (LanguageModel loaded = ModelLoader.load(dir, Device.cpu());
                 NDManager manager = NDManager.newBaseManager(Device.cpu())) {
                assertInstanceOf(HuggingFaceTextTokenizer.class, loaded.tokenizer());
                assertEquals(original.config(), loaded.config());
                assertEquals(original.weightsSha256(), loaded.weightsSha256());
                Generation generation = new Generator(loaded).greedy(manager, "", 256);
                assertArrayEquals(Files.readAllBytes(reference), generation.printed());
            }
        }
    }

    @Test
    void float16CheckpointLoadsEachWeightRoundedToNearest(@TempDir Path dir) throws Exception {
        try (LanguageModel model = TestModels.randomQwen2(22)) {
            HuggingFaceCheckpoint.write(model, dir, StoredType.F16);
            assertTrue(Files.readString(dir.resolve("config.json")).contains("\"torch_dtype\" : \"float16\""));
            try (LanguageModel loaded = ModelLoader.load(dir, Device.cpu())) {
                assertEquals(model.config(), loaded.config());
                for (Map.Entry<String, NDArray> entry : model.weights().entrySet()) {
                    float[] written = entry.getValue().toFloatArray();
                    float[] read = loaded.weights().get(entry.getKey()).toFloatArray();
                    for (int i = 0; i < written.length; i++) {
                        // binary16 keeps 11 significant bits: the nearest one is within half a unit in the last place
                        float ulp = Math.max(Math.ulp(written[i]) * (1 << 13), 0x1p-24f);
                        assertEquals(written[i], read[i], ulp / 2, entry.getKey() + "[" + i + "]");
                    }
                }
            }
        }
    }

    @Test
    void shardedCheckpointWithIndexLoadsTheSameWeights(@TempDir Path dir) throws Exception {
        try (LanguageModel model = TestModels.randomQwen2(21); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            HuggingFaceCheckpoint.write(model, dir);
            Files.delete(dir.resolve("model.safetensors"));
            SortedMap<String, NDArray> first = new TreeMap<>();
            SortedMap<String, NDArray> second = new TreeMap<>();
            ObjectNode index = new ObjectMapper().createObjectNode();
            ObjectNode weightMap = index.putObject("weight_map");
            model.weights().forEach((name, array) -> {
                boolean early = name.startsWith("model.layers.0.") || name.startsWith("model.embed");
                (early ? first : second).put(name, array);
                weightMap.put(name, early ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
            });
            SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), first, Map.of());
            SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), second, Map.of());
            Files.writeString(dir.resolve("model.safetensors.index.json"), index.toString());
            try (LanguageModel loaded = ModelLoader.load(dir, Device.cpu())) {
                assertEquals(model.config(), loaded.config());
                assertEquals(model.weightsSha256(), loaded.weightsSha256());
            }
        }
    }

    @Test
    void hfTokenizerJsonEncodesAndDecodesLikeTheLlama2cTokenizer(@TempDir Path dir) throws Exception {
        try (LanguageModel original = TestModels.stories260k()) {
            HuggingFaceCheckpoint.write(original, dir);
            TextTokenizer llama2c = original.tokenizer();
            try (LanguageModel loaded = ModelLoader.load(dir, Device.cpu())) {
                TextTokenizer hf = loaded.tokenizer();
                assertEquals(llama2c.vocabSize(), hf.vocabSize());
                for (String sentence : SENTENCES) {
                    int[] expected = llama2c.encode(sentence, true);
                    assertArrayEquals(expected, hf.encode(sentence, true), sentence);
                    assertEquals(llama2c.decode(expected), hf.decode(expected), sentence);
                }
                assertEquals("Once upon a time, there was a little girl named Lily.", hf.decode(hf.encode(SENTENCES.get(0), true)));
                assertArrayEquals(new int[] {1}, hf.encode("", true));
            }
        }
    }
}

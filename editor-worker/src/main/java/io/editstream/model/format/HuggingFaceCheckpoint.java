package io.editstream.model.format;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.editstream.model.LanguageModel;
import io.editstream.model.ModelConfig;
import io.editstream.model.ModelFormatException;
import io.editstream.model.TextTokenizer;
import io.editstream.model.HuggingFaceTextTokenizer;
import io.editstream.model.Weights;
import io.editstream.model.gpt2.Gpt2Config;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A model in HuggingFace layout: a directory with {@code config.json}, {@code model.safetensors} (or shards listed in
 * {@code model.safetensors.index.json}) and {@code tokenizer.json}.
 */
public final class HuggingFaceCheckpoint {

    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String WEIGHTS_INDEX = "model.safetensors.index.json";
    public static final String TOKENIZER = "tokenizer.json";

    private static final Logger LOG = LoggerFactory.getLogger(HuggingFaceCheckpoint.class);

    private HuggingFaceCheckpoint() {
    }

    /** Whether {@code dir} looks like a HuggingFace model directory. */
    public static boolean isCheckpoint(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG));
    }

    /** Reads and parses {@code config.json} only (no weights). */
    public static ModelConfig readConfig(Path dir) throws IOException {
        Path file = dir.resolve(CONFIG);
        JsonNode json;
        try {
            json = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read config: " + e.getMessage(), e);
        }
        return ModelFamilies.parse(json, file.toString());
    }

    /** Loads config, weights (converted to float32) and tokenizer onto {@code device}. */
    public static LanguageModel load(Path dir, Device device) throws IOException {
        ModelConfig config = readConfig(dir);
        LOG.info("loading {} from {} onto {}", config, dir, device);
        Path tokenizerFile = dir.resolve(TOKENIZER);
        if (!Files.isRegularFile(tokenizerFile)) {
            throw new ModelFormatException(dir + ": no " + TOKENIZER);
        }
        TextTokenizer tokenizer = HuggingFaceTextTokenizer.fromJson(
                Files.readString(tokenizerFile, StandardCharsets.UTF_8), tokenizerFile.toString(), config.bosId(), config.eosId());
        try {
            Weights weights = readWeights(dir, config, device);
            return ModelFamilies.assemble(config, weights, tokenizer);
        } catch (IOException | RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    private static Weights readWeights(Path dir, ModelConfig config, Device device) throws IOException {
        Map<String, Path> fileOfTensor = tensorFiles(dir);
        Map<String, Shape> expected = ModelFamilies.tensorShapes(config);
        NDManager manager = NDManager.newBaseManager(device);
        Map<Path, SafetensorsFile> open = new HashMap<>();
        try {
            Map<String, NDArray> tensors = new TreeMap<>();
            long loaded = 0;
            long lastLog = System.nanoTime();
            for (Map.Entry<String, Shape> want : expected.entrySet()) {
                String stored = storedName(want.getKey(), fileOfTensor, config);
                if (stored == null) {
                    throw new ModelFormatException(dir + ": missing tensor " + want.getKey() + " " + want.getValue()
                            + " required by " + config.architecture());
                }
                Path path = fileOfTensor.get(stored);
                SafetensorsFile file = open.get(path);
                if (file == null) {
                    file = SafetensorsFile.open(path);
                    open.put(path, file);
                }
                Shape actual = file.entries().get(stored).shape();
                if (!actual.equals(want.getValue())) {
                    throw new ModelFormatException(path + ": tensor " + stored + " has shape " + actual + ", expected "
                            + want.getValue() + " for " + config);
                }
                tensors.put(want.getKey(), file.read(manager, stored));
                loaded++;
                if (System.nanoTime() - lastLog > 5_000_000_000L) {
                    LOG.info("loaded {}/{} tensors", loaded, expected.size());
                    lastLog = System.nanoTime();
                }
            }
            return new Weights(manager, tensors);
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        } finally {
            for (SafetensorsFile file : open.values()) {
                file.close();
            }
        }
    }

    /** GPT-2 uploads from OpenAI name tensors without the {@code transformer.} prefix; accept both. */
    private static String storedName(String name, Map<String, Path> fileOfTensor, ModelConfig config) {
        if (fileOfTensor.containsKey(name)) {
            return name;
        }
        if (name.startsWith(Gpt2Config.PREFIX) && config.architecture().equals(Gpt2Config.ARCHITECTURE)) {
            String bare = name.substring(Gpt2Config.PREFIX.length());
            return fileOfTensor.containsKey(bare) ? bare : null;
        }
        return null;
    }

    /** Which file holds each tensor: the single file, or the shards of the index. */
    private static Map<String, Path> tensorFiles(Path dir) throws IOException {
        Map<String, Path> files = new HashMap<>();
        Path index = dir.resolve(WEIGHTS_INDEX);
        List<Path> shards = new ArrayList<>();
        if (Files.isRegularFile(index)) {
            JsonNode map = new ObjectMapper().readTree(index.toFile()).path("weight_map");
            if (!map.isObject()) {
                throw new ModelFormatException(index + ": no weight_map object");
            }
            for (Map.Entry<String, JsonNode> entry : map.properties()) {
                Path shard = dir.resolve(entry.getValue().asText());
                files.put(entry.getKey(), shard);
                if (!shards.contains(shard)) {
                    shards.add(shard);
                }
            }
            for (Path shard : shards) {
                if (!Files.isRegularFile(shard)) {
                    throw new ModelFormatException(index + ": shard " + shard.getFileName() + " is missing");
                }
            }
            return files;
        }
        Path single = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(single)) {
            throw new ModelFormatException(dir + ": neither " + WEIGHTS + " nor " + WEIGHTS_INDEX);
        }
        try (SafetensorsFile file = SafetensorsFile.open(single)) {
            file.entries().keySet().forEach(name -> files.put(name, single));
        }
        return files;
    }

    /**
     * Writes {@code model} in HuggingFace layout: {@code config.json}, {@code model.safetensors} (float32; a tied head
     * is not written twice) and {@code tokenizer.json}.
     */
    public static void write(LanguageModel model, Path dir) throws IOException {
        write(model, dir, StoredType.F32);
    }

    /** Writes {@code model} as {@link #write(LanguageModel, Path)} does, its weights stored as {@code stored}. */
    public static void write(LanguageModel model, Path dir, StoredType stored) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode config = ModelFamilies.toJson(model.config());
        config.put("torch_dtype", stored.torchName());
        Files.writeString(dir.resolve(CONFIG), mapper.writerWithDefaultPrettyPrinter().writeValueAsString(config));
        SafetensorsWriter.write(dir.resolve(WEIGHTS), model.weights(), Map.of("format", "pt"), stored);
        Files.writeString(dir.resolve(TOKENIZER), model.tokenizer().toHuggingFaceJson(), StandardCharsets.UTF_8);
        LOG.info("wrote {} ({} tensors) to {}", model.config(), model.weights().size(), dir);
    }
}

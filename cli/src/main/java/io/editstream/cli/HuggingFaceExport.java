package io.editstream.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.editstream.checkpoint.BaseModel;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.checkpoint.export.ExportDirectory;
import io.editstream.model.LanguageModel;
import io.editstream.model.format.HuggingFaceCheckpoint;
import io.editstream.model.format.ModelLoader;
import io.editstream.model.format.SafetensorsFile;
import io.editstream.model.format.SafetensorsWriter;
import io.editstream.model.format.StoredType;
import io.editstream.tensor.FloatMatrix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A version as a full HuggingFace model directory, for fleets that reload weights from disk: the base directory's
 * config, generation config and tokenizer files, and one {@code model.safetensors} with every base tensor, the edited
 * ones replaced by the version's. The directory appears whole or not at all, and only after its edited tensors have
 * been read back and found to hash as the manifest says.
 */
final class HuggingFaceExport {

    private static final Logger log = LoggerFactory.getLogger(HuggingFaceExport.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the base directory contributes besides its weights (every name starting with "tokenizer" too). */
    private static final Set<String> COPIED = Set.of(HuggingFaceCheckpoint.CONFIG, "generation_config.json",
            "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt", "vocab.txt",
            "chat_template.json", "chat_template.jinja");
    private static final List<String> DTYPE_KEYS = List.of("torch_dtype", "dtype");

    /**
     * @param dtype     the {@code torch_dtype} the weights are stored as
     * @param dtypeNote the dtype and, when it is not the base's, why
     */
    record Result(int editedTensors, String dtype, String dtypeNote, List<Path> files) {
    }

    private HuggingFaceExport() {
    }

    static Result export(CheckpointStore store, String modelId, long version, Path baseDir, Path out) throws IOException {
        BaseModel base = store.base(modelId).orElseThrow(
                () -> new CommandFailure("model " + modelId + " has no registered base in the store"));
        Manifest manifest = store.manifest(modelId, version).orElseThrow(
                () -> new CommandFailure("model " + modelId + " has no version " + version + " in the store"));
        if (!HuggingFaceCheckpoint.isCheckpoint(baseDir)) {
            throw new CommandFailure(baseDir + " is not a HuggingFace model directory (no " + HuggingFaceCheckpoint.CONFIG + ")");
        }
        ObjectNode config = readConfig(baseDir);
        String baseDtype = DTYPE_KEYS.stream().map(key -> config.path(key).asText("")).filter(s -> !s.isEmpty())
                .findFirst().orElse(StoredType.F32.torchName());
        try (LanguageModel model = load(baseDir); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            String actual = model.weightsSha256();
            if (!actual.equals(base.sha256())) {
                throw new CommandFailure("the weights in " + baseDir + " hash to " + actual + ", not to model " + modelId + "'s base "
                        + base.sha256() + " (registered from " + base.source() + "): export needs the model its versions were made from");
            }
            ModelHead head = store.materialise(modelId, version, CheckpointStore.Start.NEAREST);
            SortedMap<String, NDArray> weights = new TreeMap<>(model.weights());
            for (String name : manifest.tensorSha256().keySet()) {
                NDArray original = weights.get(name);
                FloatMatrix edited = head.tensor(name);
                if (original == null || !original.getShape().equals(new Shape(edited.rows(), edited.cols()))) {
                    throw new CommandFailure("model " + modelId + " version " + version + " edits " + name + " [" + edited.rows()
                            + ", " + edited.cols() + "], which " + baseDir + " "
                            + (original == null ? "lacks" : "holds as " + original.getShape()));
                }
                weights.put(name, edited.toNDArray(manager));
            }
            StoredType stored = storedType(baseDtype, manifest.tensorSha256().keySet(), weights);
            String note = stored.torchName().equals(baseDtype) ? stored.torchName()
                    : stored.torchName() + ": the base is " + baseDtype + ", which would round the edited tensors";
            if (!stored.torchName().equals(baseDtype)) {
                log.warn("model {} version {}: writing {}", modelId, version, note);
            }
            List<Path> files = ExportDirectory.publish(out, directory -> {
                copyMetadata(baseDir, directory, config, stored, baseDtype);
                Path file = directory.resolve(HuggingFaceCheckpoint.WEIGHTS);
                SafetensorsWriter.write(file, weights, Map.of("format", "pt"), stored);
                checkEdited(file, manifest);
            });
            log.info("model {} version {}: wrote a HuggingFace model ({} tensors, {} edited, {}) to {}", modelId, version,
                    weights.size(), manifest.tensorSha256().size(), stored.torchName(), out);
            return new Result(manifest.tensorSha256().size(), stored.torchName(), note, files);
        }
    }

    private static LanguageModel load(Path baseDir) {
        try {
            return ModelLoader.load(baseDir, Device.cpu());
        } catch (IOException e) {
            throw new CommandFailure("cannot load the base model " + baseDir + ": " + e.getMessage(), e);
        }
    }

    private static ObjectNode readConfig(Path baseDir) throws IOException {
        JsonNode config = JSON.readTree(baseDir.resolve(HuggingFaceCheckpoint.CONFIG).toFile());
        if (!(config instanceof ObjectNode object)) {
            throw new CommandFailure(baseDir.resolve(HuggingFaceCheckpoint.CONFIG) + " is not a JSON object");
        }
        return object;
    }

    /**
     * The base's dtype when every edited tensor survives it unchanged, else float32: a rounded tensor would no longer
     * be the version whose hash the manifest gives. bfloat16 and unknown dtypes are written as float32, which holds
     * their values exactly.
     */
    private static StoredType storedType(String baseDtype, Set<String> edited, Map<String, NDArray> weights) {
        if (!baseDtype.equals(StoredType.F16.torchName())) {
            return StoredType.F32;
        }
        for (String name : edited) {
            NDArray weight = weights.get(name);
            try (NDArray half = weight.toType(DataType.FLOAT16, true); NDArray back = half.toType(DataType.FLOAT32, true)) {
                if (!back.contentEquals(weight)) {
                    return StoredType.F32;
                }
            }
        }
        return StoredType.F16;
    }

    /** Copies config, generation config and tokenizer files; the config's dtype follows what is written. */
    private static void copyMetadata(Path baseDir, Path directory, ObjectNode config, StoredType stored, String baseDtype)
            throws IOException {
        try (Stream<Path> files = Files.list(baseDir)) {
            for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
                String name = file.getFileName().toString();
                if (name.equals(HuggingFaceCheckpoint.CONFIG) && !stored.torchName().equals(baseDtype)) {
                    ObjectNode rewritten = config.deepCopy();
                    DTYPE_KEYS.stream().filter(rewritten::has).forEach(key -> rewritten.put(key, stored.torchName()));
                    if (DTYPE_KEYS.stream().noneMatch(rewritten::has)) {
                        rewritten.put("torch_dtype", stored.torchName());
                    }
                    Files.write(directory.resolve(name), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(rewritten));
                } else if (COPIED.contains(name) || name.startsWith("tokenizer")) {
                    Files.copy(file, directory.resolve(name));
                }
            }
        }
    }

    /** Reads the edited tensors back from the written file: what a fleet loads must be the version the manifest names. */
    private static void checkEdited(Path file, Manifest manifest) throws IOException {
        try (SafetensorsFile written = SafetensorsFile.open(file); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            for (Map.Entry<String, String> expected : manifest.tensorSha256().entrySet()) {
                String actual = FloatMatrix.of(written.read(manager, expected.getKey())).sha256();
                if (!actual.equals(expected.getValue())) {
                    throw new IOException("the exported " + expected.getKey() + " hashes to " + actual + ", version "
                            + manifest.version() + "'s manifest says " + expected.getValue());
                }
            }
        }
    }
}

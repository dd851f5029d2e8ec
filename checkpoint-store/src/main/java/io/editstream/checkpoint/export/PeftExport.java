package io.editstream.checkpoint.export;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.editstream.checkpoint.AccumulatedChange;
import io.editstream.checkpoint.BaseModel;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.tensor.FloatMatrix;
import io.editstream.tensor.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exports a version's whole change from the base as a PEFT LoRA adapter that PEFT, vLLM and SGLang load as they are:
 * {@value #CONFIG_FILE} and {@value #WEIGHTS_FILE} with {@code base_model.model.<module>.lora_A.weight} [r, in] and
 * {@code lora_B.weight} [out, r], lora_alpha = r so that PEFT's scaling alpha / r is 1 and W + lora_B lora_A is the
 * version's tensor.
 *
 * <p>Each tensor's change is compacted to its top singular triplets (thin QR of the factors, SVD of the small core;
 * an SVD of the dense change when the chain no longer reaches the base), at most {@code maxRank} of them. The adapter
 * has one rank r, the largest kept; a tensor that keeps fewer has zero rows and columns past its own, which change
 * nothing. What the cap drops is reported as the fraction of the change's Frobenius energy kept.
 *
 * <p>in and out are the Linear's features whatever the storage: GPT-2's Conv1D stores its weight [in, out], and PEFT
 * with {@code fan_in_fan_out} builds lora_A as Linear(in, r) and lora_B as Linear(r, out) from that weight's shape and
 * transposes lora_B lora_A when merging, so the adapter tensors have the same shapes as for a Linear.
 */
public final class PeftExport {

    private static final Logger log = LoggerFactory.getLogger(PeftExport.class);

    public static final int DEFAULT_MAX_RANK = 256;
    /** The largest LoRA rank vLLM serves ({@code --max-lora-rank}). */
    public static final int VLLM_MAX_RANK = 512;
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** float32's unit round-off: a float32 tensor's values carry rounding of up to this fraction of their size. */
    private static final double FLOAT32_ROUNDING = 0x1p-24;

    /** What the adapter keeps of one tensor's change. */
    public record TensorExport(int rank, double energyKept) {
    }

    /**
     * @param rank       the adapter's r
     * @param tensors    by edited tensor name
     * @param energyKept over every tensor: Σ kept σ² / Σ σ²
     * @param files      the files written
     */
    public record Result(int rank, SortedMap<String, TensorExport> tensors, double energyKept, List<Path> files) {
        public Result {
            tensors = Collections.unmodifiableSortedMap(new TreeMap<>(tensors));
            files = List.copyOf(files);
        }
    }

    private final CheckpointStore store;

    public PeftExport(CheckpointStore store) {
        this.store = store;
    }

    /**
     * Writes the adapter of {@code version} to {@code out} (a new or empty directory), whole or not at all.
     *
     * @param maxRank the most singular triplets kept per tensor
     */
    public Result export(String modelId, long version, int maxRank, Path out) throws IOException {
        if (maxRank < 1) {
            throw new IllegalArgumentException("the maximum LoRA rank must be at least 1, got " + maxRank);
        }
        BaseModel base = store.base(modelId).orElseThrow(
                () -> new IllegalArgumentException("model " + modelId + " has no registered base in the store"));
        Manifest manifest = store.manifest(modelId, version).orElseThrow(
                () -> new IllegalArgumentException("model " + modelId + " has no version " + version + " in the store"));
        SortedMap<String, LoraTarget> targets = targets(manifest);
        LoraTarget.Family family = targets.values().iterator().next().family();

        SortedMap<String, LoraFactors> factors = new TreeMap<>();
        ModelHead materialised = null;
        for (String tensor : targets.keySet()) {
            AccumulatedChange change = store.changeFromBase(modelId, version, tensor);
            LoraFactors compacted;
            if (change instanceof AccumulatedChange.Factors f) {
                // ΔW as stored is A Bᵀ, or B Aᵀ when transposed; the Linear's [out, in] is that, transposed for a Conv1D
                boolean aIsOut = f.transposed() == family.fanInFanOut();
                compacted = LoraFactors.ofFactors(aIsOut ? f.a() : f.b(), aIsOut ? f.b() : f.a(), maxRank);
            } else {
                FloatMatrix dense = ((AccumulatedChange.Dense) change).change();
                if (materialised == null) {
                    materialised = store.materialise(modelId, version, CheckpointStore.Start.NEAREST);
                }
                double noiseFloor = frobenius(materialised.tensor(tensor)) * FLOAT32_ROUNDING;
                compacted = LoraFactors.ofDense(family.fanInFanOut() ? transpose(dense) : dense, maxRank, noiseFloor);
                log.info("model {} version {} tensor {}: the chain starts at a snapshot, compacted the dense change",
                        modelId, version, tensor);
            }
            checkShape(base, tensor, family, compacted);
            factors.put(tensor, compacted);
        }

        int rank = Math.max(1, factors.values().stream().mapToInt(LoraFactors::rank).max().orElse(1));
        if (rank > VLLM_MAX_RANK) {
            log.warn("model {} version {}: LoRA rank {} exceeds {}, the most vLLM serves; PEFT loads it, vLLM will refuse it "
                    + "(export with a lower maximum rank for vLLM)", modelId, version, rank, VLLM_MAX_RANK);
        }
        SortedMap<String, FloatMatrix> adapter = new TreeMap<>();
        SortedMap<String, TensorExport> tensors = new TreeMap<>();
        double total = 0;
        double kept = 0;
        for (Map.Entry<String, LoraFactors> entry : factors.entrySet()) {
            LoraTarget target = targets.get(entry.getKey());
            LoraFactors tensor = entry.getValue();
            adapter.put(target.adapterTensor("lora_A"), tensor.paddedA(rank));
            adapter.put(target.adapterTensor("lora_B"), tensor.paddedB(rank));
            tensors.put(entry.getKey(), new TensorExport(tensor.rank(), tensor.energyKept()));
            total += tensor.totalEnergy();
            kept += tensor.keptEnergy();
        }
        double energyKept = total == 0 ? 1 : kept / total;

        byte[] config = JSON.writeValueAsBytes(config(base, family, rank, targets));
        byte[] weights = Safetensors.encode(adapter, Map.of(
                "format", "pt",
                "editstream.model_id", modelId,
                "editstream.version", Long.toString(version),
                "editstream.base_sha256", base.sha256()));
        List<Path> files = ExportDirectory.publish(out, directory -> {
            Files.write(directory.resolve(CONFIG_FILE), config);
            Files.write(directory.resolve(WEIGHTS_FILE), weights);
        });
        log.info("model {} version {}: PEFT LoRA adapter of rank {} for {} tensors, {} of the change's energy kept, in {}",
                modelId, version, rank, tensors.size(), String.format("%.6f", energyKept), out);
        return new Result(rank, tensors, energyKept, files);
    }

    /** Every tensor the version has changed, as adapter targets of one family. */
    private static SortedMap<String, LoraTarget> targets(Manifest manifest) {
        if (manifest.tensorSha256().isEmpty()) {
            throw new IllegalArgumentException("model " + manifest.modelId() + " version " + manifest.version()
                    + " has changed no tensor: there is nothing to export");
        }
        SortedMap<String, LoraTarget> targets = new TreeMap<>();
        for (String tensor : manifest.tensorSha256().keySet()) {
            targets.put(tensor, LoraTarget.of(tensor));
        }
        SortedSet<LoraTarget.Family> families = new TreeSet<>();
        targets.values().forEach(target -> families.add(target.family()));
        if (families.size() > 1) {
            // fan_in_fan_out is one flag for the whole adapter
            throw new IllegalArgumentException("model " + manifest.modelId() + " version " + manifest.version()
                    + " edits tensors named as in several model families " + families + "; one adapter serves one");
        }
        return targets;
    }

    private static ObjectNode config(BaseModel base, LoraTarget.Family family, int rank, SortedMap<String, LoraTarget> targets) {
        ObjectNode config = JSON.createObjectNode();
        config.put("peft_type", "LORA");
        config.put("task_type", "CAUSAL_LM");
        config.put("base_model_name_or_path", base.source());
        config.put("r", rank);
        config.put("lora_alpha", rank);
        config.put("lora_dropout", 0.0);
        config.put("bias", "none");
        config.putArray("target_modules").add(family.targetModule());
        var layers = config.putArray("layers_to_transform");
        targets.values().stream().mapToInt(LoraTarget::layer).distinct().sorted().forEach(layers::add);
        config.put("fan_in_fan_out", family.fanInFanOut());
        // explicit: rsLoRA would scale by alpha / sqrt(r), and W + lora_B lora_A holds only at scaling 1
        config.put("use_rslora", false);
        config.put("use_dora", false);
        config.putNull("modules_to_save");
        config.put("inference_mode", true);
        return config;
    }

    private static void checkShape(BaseModel base, String tensor, LoraTarget.Family family, LoraFactors factors) {
        int[] stored = base.matrixShape(tensor);
        int out = family.fanInFanOut() ? stored[1] : stored[0];
        int in = family.fanInFanOut() ? stored[0] : stored[1];
        if (factors.loraB().rows() != out || factors.loraA().cols() != in) {
            throw new IllegalStateException("tensor " + tensor + " of shape [" + stored[0] + ", " + stored[1] + "] has a change of ["
                    + factors.loraB().rows() + ", " + factors.loraA().cols() + "] as [out, in]; its deltas do not fit "
                    + (family.fanInFanOut() ? "a Conv1D" : "a Linear"));
        }
    }

    private static double frobenius(FloatMatrix m) {
        double sum = 0;
        for (float value : m.data()) {
            sum += (double) value * value;
        }
        return Math.sqrt(sum);
    }

    private static FloatMatrix transpose(FloatMatrix m) {
        float[] out = new float[m.data().length];
        for (int row = 0; row < m.rows(); row++) {
            for (int col = 0; col < m.cols(); col++) {
                out[col * m.rows() + row] = m.data()[row * m.cols() + col];
            }
        }
        return new FloatMatrix(m.cols(), m.rows(), out);
    }
}

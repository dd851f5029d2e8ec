package io.editstream.checkpoint.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.checkpoint.AccumulatedChange;
import io.editstream.checkpoint.BaseModel;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.checkpoint.TensorChange;
import io.editstream.checkpoint.WriteMode;
import io.editstream.checkpoint.objects.FileSystemObjectStore;
import io.editstream.tensor.FloatMatrix;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The PEFT LoRA export, read back by a safetensors reader of its own and checked against the materialised versions. */
class PeftExportTest {

    private static final String MODEL = "llama-tiny";
    private static final String LAYER0 = "model.layers.0.mlp.down_proj.weight";
    private static final String LAYER1 = "model.layers.1.mlp.down_proj.weight";
    private static final int OUT = 16;
    private static final int IN = 48;
    private static final Manifest.EditorInfo EDITOR = new Manifest.EditorInfo("memit", "a".repeat(64), null);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final Random random = new Random(11);
    private CheckpointStore store;
    private final SortedMap<String, FloatMatrix> base = new TreeMap<>();

    @BeforeEach
    void openStore() throws IOException {
        store = new CheckpointStore(new FileSystemObjectStore(dir.resolve("store")), 3);
    }

    @AfterEach
    void closeStore() throws IOException {
        store.close();
    }

    @Test
    void aLlamaChainExportsExactlyAtFullRank() throws IOException {
        registerBase(MODEL, List.of(LAYER0, LAYER1), false);
        appendLlamaChain();

        PeftExport.Result result = new PeftExport(store).export(MODEL, 5, PeftExport.DEFAULT_MAX_RANK, dir.resolve("adapter"));

        // layer 0: REBASE of rank 4 at version 4, then rank 2; layer 1: 2 + 1 + 2 since the base
        assertEquals(6, result.rank());
        assertEquals(6, result.tensors().get(LAYER0).rank());
        assertEquals(5, result.tensors().get(LAYER1).rank());
        assertEquals(1.0, result.energyKept(), 1e-12);
        assertEquals(List.of(dir.resolve("adapter/adapter_config.json"), dir.resolve("adapter/adapter_model.safetensors")),
                result.files());

        JsonNode config = JSON.readTree(dir.resolve("adapter/adapter_config.json").toFile());
        assertEquals("LORA", config.get("peft_type").asText());
        assertEquals("CAUSAL_LM", config.get("task_type").asText());
        assertEquals(6, config.get("r").asInt());
        assertEquals(6, config.get("lora_alpha").asInt());
        assertEquals(0.0, config.get("lora_dropout").asDouble());
        assertEquals("none", config.get("bias").asText());
        assertEquals("[\"down_proj\"]", config.get("target_modules").toString());
        assertEquals("[0,1]", config.get("layers_to_transform").toString());
        assertFalse(config.get("fan_in_fan_out").asBoolean());
        assertFalse(config.get("use_rslora").asBoolean());
        assertTrue(config.get("inference_mode").asBoolean());
        assertEquals("hf://tiny-llama", config.get("base_model_name_or_path").asText());

        Map<String, Tensor> adapter = readSafetensors(dir.resolve("adapter/adapter_model.safetensors"));
        assertEquals(List.of(
                "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight",
                "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight",
                "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight",
                "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"), List.copyOf(new TreeMap<>(adapter).keySet()));
        for (Tensor tensor : adapter.values()) {
            assertEquals("F32", tensor.dtype());
        }
        ModelHead version = store.materialise(MODEL, 5, CheckpointStore.Start.BASE);
        for (String name : List.of(LAYER0, LAYER1)) {
            Tensor a = adapter.get(adapterName(name, "lora_A"));
            Tensor b = adapter.get(adapterName(name, "lora_B"));
            assertArrayEquals(new long[] {6, IN}, a.shape());
            assertArrayEquals(new long[] {OUT, 6}, b.shape());
            assertClose(version.tensor(name), plus(base.get(name), b, a, false), 2e-5, name);
        }
        // layer 1 keeps rank 5 of the adapter's 6: the padding is zeros
        Tensor a1 = adapter.get(adapterName(LAYER1, "lora_A"));
        Tensor b1 = adapter.get(adapterName(LAYER1, "lora_B"));
        for (int col = 0; col < IN; col++) {
            assertEquals(0f, a1.values()[5 * IN + col]);
        }
        for (int row = 0; row < OUT; row++) {
            assertEquals(0f, b1.values()[row * 6 + 5]);
        }
    }

    @Test
    void aReducedRankKeepsTheTopSingularTripletsAndReportsTheirEnergy() throws IOException {
        registerBase(MODEL, List.of(LAYER0, LAYER1), false);
        appendLlamaChain();

        PeftExport.Result result = new PeftExport(store).export(MODEL, 5, 2, dir.resolve("adapter"));

        assertEquals(2, result.rank());
        ModelHead version = store.materialise(MODEL, 5, CheckpointStore.Start.NEAREST);
        Map<String, Tensor> adapter = readSafetensors(dir.resolve("adapter/adapter_model.safetensors"));
        double total = 0;
        double kept = 0;
        for (String name : List.of(LAYER0, LAYER1)) {
            double[] sigma = singularValuesDescending(difference(version.tensor(name), base.get(name), false));
            double tensorTotal = Arrays.stream(sigma).map(s -> s * s).sum();
            double tensorKept = sigma[0] * sigma[0] + sigma[1] * sigma[1];
            assertEquals(tensorKept / tensorTotal, result.tensors().get(name).energyKept(), 1e-6, name);
            assertEquals(2, result.tensors().get(name).rank());
            assertTrue(result.tensors().get(name).energyKept() < 0.999, "a rank-2 cap drops part of a rank-5 or -6 change");
            // the residual is what the dropped triplets carry: the kept ones are the top ones (Eckart–Young)
            FloatMatrix exported = plus(base.get(name), adapter.get(adapterName(name, "lora_B")),
                    adapter.get(adapterName(name, "lora_A")), false);
            double[] residual = difference(version.tensor(name), exported, false).data;
            double residualEnergy = Arrays.stream(residual).map(x -> x * x).sum();
            assertEquals(tensorTotal - tensorKept, residualEnergy, 1e-4 * tensorTotal, name);
            total += tensorTotal;
            kept += tensorKept;
        }
        assertEquals(kept / total, result.energyKept(), 1e-6);
        assertEquals(2, JSON.readTree(dir.resolve("adapter/adapter_config.json").toFile()).get("r").asInt());
    }

    @Test
    void gpt2ConvWeightsExportLinearShapedFactorsWithFanInFanOut() throws IOException {
        String model = "gpt2-tiny";
        String c0 = "transformer.h.0.mlp.c_proj.weight";
        String c2 = "transformer.h.2.mlp.c_proj.weight";
        registerBase(model, List.of(c0, c2), true);
        ModelHead head = store.head(model);
        head.append(batch(1), EDITOR, changes(Map.of(c0, lowRank(2, true), c2, lowRank(3, true))), null, WriteMode.CREATE);
        head.append(batch(2), EDITOR, changes(Map.of(c0, lowRank(1, true))), null, WriteMode.CREATE);
        head.append(batch(3), EDITOR, changes(Map.of(c0, lowRank(1, true))), null, WriteMode.CREATE);
        head.append(batch(4), EDITOR, changes(Map.of(c2, lowRank(1, true))), null, WriteMode.CREATE);

        PeftExport.Result factored = new PeftExport(store).export(model, 4, 8, dir.resolve("gpt2-adapter"));
        assertGpt2Adapter(model, List.of(c0, c2), dir.resolve("gpt2-adapter"));

        // pruned to start at version 3's snapshot, the changes come back dense and stored [in, out]
        store.collectGarbage(new CheckpointStore.GcPolicy(Duration.ZERO, 1), Instant.now());
        assertTrue(store.changeFromBase(model, 4, c0) instanceof AccumulatedChange.Dense);
        PeftExport.Result dense = new PeftExport(store).export(model, 4, 8, dir.resolve("gpt2-dense"));
        assertGpt2Adapter(model, List.of(c0, c2), dir.resolve("gpt2-dense"));

        assertEquals(4, factored.rank());
        assertEquals(4, dense.rank());
        for (String name : List.of(c0, c2)) {
            assertEquals(4, dense.tensors().get(name).rank(), name);
            assertEquals(1.0, dense.tensors().get(name).energyKept(), 1e-9, name);
        }
    }

    /** Rank-4 adapter for GPT-2's MLP c_proj of layers 0 and 2 whose merge gives version 4. */
    private void assertGpt2Adapter(String model, List<String> names, Path out) throws IOException {
        JsonNode config = JSON.readTree(out.resolve("adapter_config.json").toFile());
        assertTrue(config.get("fan_in_fan_out").asBoolean());
        assertEquals("[\"mlp.c_proj\"]", config.get("target_modules").toString());
        assertEquals("[0,2]", config.get("layers_to_transform").toString());
        Map<String, Tensor> adapter = readSafetensors(out.resolve("adapter_model.safetensors"));
        ModelHead version = store.materialise(model, 4, CheckpointStore.Start.NEAREST);
        for (String name : names) {
            String module = name.substring(0, name.length() - ".weight".length());
            Tensor a = adapter.get("base_model.model." + module + ".lora_A.weight");
            Tensor b = adapter.get("base_model.model." + module + ".lora_B.weight");
            // PEFT: in_features, out_features = Conv1D weight.shape; lora_A = Linear(in, r), lora_B = Linear(r, out)
            assertArrayEquals(new long[] {4, IN}, a.shape());
            assertArrayEquals(new long[] {OUT, 4}, b.shape());
            // and merging adds transpose(lora_B @ lora_A, fan_in_fan_out) to the [in, out] weight
            assertClose(version.tensor(name), plus(base.get(name), b, a, true), 2e-5, name);
        }
    }

    @Test
    void aPrunedChainFallsBackToTheDenseChangeAndDropsOnlyRoundingNoise() throws IOException {
        registerBase(MODEL, List.of(LAYER0, LAYER1), false);
        appendLlamaChain();
        CheckpointStore.GcReport report = store.collectGarbage(new CheckpointStore.GcPolicy(Duration.ZERO, 2), Instant.now());
        assertEquals(List.of(1L, 2L), report.prunedVersions().get(MODEL), "the chain now starts at version 3's snapshot");
        assertTrue(store.changeFromBase(MODEL, 5, LAYER1) instanceof AccumulatedChange.Dense);
        assertTrue(store.changeFromBase(MODEL, 5, LAYER0) instanceof AccumulatedChange.Factors, "layer 0 reaches its REBASE");

        PeftExport.Result result = new PeftExport(store).export(MODEL, 5, PeftExport.DEFAULT_MAX_RANK, dir.resolve("adapter"));

        assertEquals(5, result.tensors().get(LAYER1).rank(), "the change's own rank, not the float32 noise of the difference");
        assertEquals(1.0, result.tensors().get(LAYER1).energyKept(), 1e-9);
        Map<String, Tensor> adapter = readSafetensors(dir.resolve("adapter/adapter_model.safetensors"));
        ModelHead version = store.materialise(MODEL, 5, CheckpointStore.Start.NEAREST);
        for (String name : List.of(LAYER0, LAYER1)) {
            assertClose(version.tensor(name), plus(base.get(name), adapter.get(adapterName(name, "lora_B")),
                    adapter.get(adapterName(name, "lora_A")), false), 2e-5, name);
        }
    }

    @Test
    void aTensorOutsideTheMlpOutputNamingIsRefusedAndNothingIsWritten() throws IOException {
        String attention = "model.layers.0.self_attn.o_proj.weight";
        registerBase(MODEL, List.of(LAYER0, attention), false);
        store.head(MODEL).append(batch(1), EDITOR, changes(Map.of(LAYER0, lowRank(1, false), attention, lowRank(1, false))),
                null, WriteMode.CREATE);

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> new PeftExport(store).export(MODEL, 1, 4, dir.resolve("adapter")));

        assertTrue(refused.getMessage().contains(attention), refused.getMessage());
        assertFalse(Files.exists(dir.resolve("adapter")));
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(List.of(dir.resolve("store")), left.toList(), "no temporary directory is left behind");
        }
    }

    @Test
    void anExistingNonEmptyDirectoryIsNotOverwritten() throws IOException {
        registerBase(MODEL, List.of(LAYER0), false);
        store.head(MODEL).append(batch(1), EDITOR, changes(Map.of(LAYER0, lowRank(2, false))), null, WriteMode.CREATE);
        Path out = Files.createDirectories(dir.resolve("adapter"));
        Files.writeString(out.resolve("keep.txt"), "mine");

        assertThrows(IllegalArgumentException.class, () -> new PeftExport(store).export(MODEL, 1, 4, out));

        assertEquals("mine", Files.readString(out.resolve("keep.txt")));
    }

    // ---- the chain

    /** Versions 1..5, version 3 a snapshot (every 3rd), version 4 a REBASE of layer 0. */
    private void appendLlamaChain() throws IOException {
        ModelHead head = store.head(MODEL);
        head.append(batch(1), EDITOR, changes(Map.of(LAYER0, lowRank(2, false), LAYER1, lowRank(2, false))), null, WriteMode.CREATE);
        head.append(batch(2), EDITOR, changes(Map.of(LAYER0, lowRank(3, false))), null, WriteMode.CREATE);
        head.append(batch(3), EDITOR, changes(Map.of(LAYER1, lowRank(1, false))), null, WriteMode.CREATE);
        head.append(batch(4), EDITOR, changes(Map.of(
                LAYER0, TensorChange.rebase(matrix(OUT, 4), matrix(IN, 4), false),
                LAYER1, lowRank(2, false))), null, WriteMode.CREATE);
        head.append(batch(5), EDITOR, changes(Map.of(LAYER0, lowRank(2, false))), null, WriteMode.CREATE);
    }

    /** Registers a base whose editable tensors are [OUT, IN], or [IN, OUT] for Conv1D weights. */
    private void registerBase(String model, List<String> editable, boolean conv1d) throws IOException {
        SortedMap<String, BaseModel.TensorInfo> tensors = new TreeMap<>();
        SortedMap<String, FloatMatrix> values = new TreeMap<>();
        for (String name : editable) {
            FloatMatrix w = conv1d ? matrix(IN, OUT) : matrix(OUT, IN);
            values.put(name, w);
            tensors.put(name, new BaseModel.TensorInfo(List.of((long) w.rows(), (long) w.cols()), w.sha256()));
        }
        base.putAll(values);
        store.registerBase(model, "b".repeat(64), "hf://tiny-" + (conv1d ? "gpt2" : "llama"), tensors, values);
    }

    private TensorChange.Factored lowRank(int rank, boolean transposed) {
        return TensorChange.lowRank(matrix(OUT, rank), matrix(IN, rank), transposed);
    }

    private static SortedMap<String, TensorChange> changes(Map<String, TensorChange> changes) {
        return new TreeMap<>(changes);
    }

    private static Manifest.SequenceRange batch(long version) {
        return new Manifest.SequenceRange(version, version);
    }

    private FloatMatrix matrix(int rows, int cols) {
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return new FloatMatrix(rows, cols, values);
    }

    private static String adapterName(String tensor, String lora) {
        return "base_model.model." + tensor.substring(0, tensor.length() - ".weight".length()) + "." + lora + ".weight";
    }

    // ---- arithmetic in float64, independent of the code under test

    /** W + lora_B lora_A, or W + (lora_B lora_A)ᵀ for a weight stored [in, out]. */
    private static FloatMatrix plus(FloatMatrix w, Tensor b, Tensor a, boolean fanInFanOut) {
        int out = (int) b.shape()[0];
        int rank = (int) b.shape()[1];
        int in = (int) a.shape()[1];
        assertEquals(rank, a.shape()[0]);
        float[] result = w.data().clone();
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double sum = 0;
                for (int k = 0; k < rank; k++) {
                    sum += (double) b.values()[o * rank + k] * a.values()[k * in + i];
                }
                int at = fanInFanOut ? i * out + o : o * in + i;
                result[at] = (float) (result[at] + sum);
            }
        }
        return new FloatMatrix(w.rows(), w.cols(), result);
    }

    private static DMatrixRMaj difference(FloatMatrix x, FloatMatrix y, boolean transpose) {
        DMatrixRMaj d = new DMatrixRMaj(transpose ? x.cols() : x.rows(), transpose ? x.rows() : x.cols());
        for (int r = 0; r < x.rows(); r++) {
            for (int c = 0; c < x.cols(); c++) {
                double value = (double) x.get(r, c) - y.get(r, c);
                if (transpose) {
                    d.set(c, r, value);
                } else {
                    d.set(r, c, value);
                }
            }
        }
        return d;
    }

    private static double[] singularValuesDescending(DMatrixRMaj m) {
        double[] sigma = SingularOps_DDRM.singularValues(m);
        Arrays.sort(sigma);
        for (int i = 0; i < sigma.length / 2; i++) {
            double swap = sigma[i];
            sigma[i] = sigma[sigma.length - 1 - i];
            sigma[sigma.length - 1 - i] = swap;
        }
        return sigma;
    }

    private static void assertClose(FloatMatrix expected, FloatMatrix actual, double tolerance, String what) {
        assertEquals(expected.rows(), actual.rows(), what);
        assertEquals(expected.cols(), actual.cols(), what);
        double worst = 0;
        for (int i = 0; i < expected.data().length; i++) {
            worst = Math.max(worst, Math.abs(expected.data()[i] - actual.data()[i]));
        }
        assertTrue(worst <= tolerance, what + ": largest difference " + worst);
    }

    private static void assertArrayEquals(long[] expected, long[] actual) {
        assertEquals(Arrays.toString(expected), Arrays.toString(actual));
    }

    // ---- a safetensors reader of the test's own: 8-byte little-endian header length, JSON header, raw data

    record Tensor(String dtype, long[] shape, float[] values) {
    }

    private static Map<String, Tensor> readSafetensors(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer all = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = all.getLong(0);
        assertEquals(0, (8 + headerLength) % 8, "data is 8-byte aligned");
        JsonNode header = JSON.readTree(new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8));
        int dataStart = (int) (8 + headerLength);
        Map<String, Tensor> tensors = new HashMap<>();
        List<long[]> ranges = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : header.properties()) {
            if (field.getKey().equals("__metadata__")) {
                assertEquals("pt", field.getValue().get("format").asText());
                continue;
            }
            JsonNode node = field.getValue();
            long[] shape = new long[node.get("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = node.get("shape").get(i).asLong();
            }
            long begin = node.get("data_offsets").get(0).asLong();
            long end = node.get("data_offsets").get(1).asLong();
            ranges.add(new long[] {begin, end});
            float[] values = new float[(int) ((end - begin) / 4)];
            assertEquals(Arrays.stream(shape).reduce(1, (x, y) -> x * y), values.length, field.getKey());
            for (int i = 0; i < values.length; i++) {
                values[i] = all.getFloat(dataStart + (int) begin + 4 * i);
            }
            tensors.put(field.getKey(), new Tensor(node.get("dtype").asText(), shape, values));
        }
        ranges.sort((x, y) -> Long.compare(x[0], y[0]));
        long next = 0;
        for (long[] range : ranges) {
            assertEquals(next, range[0], "tensors tile the data section");
            next = range[1];
        }
        assertEquals(bytes.length - dataStart, next, "no trailing bytes");
        return tensors;
    }
}

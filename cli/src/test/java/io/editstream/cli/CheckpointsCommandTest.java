package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.checkpoint.BaseModel;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.checkpoint.StoreKeys;
import io.editstream.checkpoint.TensorChange;
import io.editstream.checkpoint.WriteMode;
import io.editstream.checkpoint.objects.FileSystemObjectStore;
import io.editstream.model.LanguageModel;
import io.editstream.model.format.ModelLoader;
import io.editstream.tensor.FloatMatrix;
import io.editstream.worker.ModelCheckpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code editstream checkpoints}: list, verify, export and gc on stores the test builds. */
class CheckpointsCommandTest {

    private static final String MODEL = "tiny";
    private static final String LAYER0 = "model.layers.0.mlp.down_proj.weight";
    private static final String LAYER1 = "model.layers.1.mlp.down_proj.weight";
    private static final Manifest.EditorInfo EDITOR = new Manifest.EditorInfo("nse", "a".repeat(64), "PRUNE(alpha=e)");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Path storeRoot;
    private final Random random = new Random(5);

    @BeforeEach
    void buildStore() throws IOException {
        storeRoot = dir.resolve("store");
        try (CheckpointStore store = new CheckpointStore(new FileSystemObjectStore(storeRoot), 3)) {
            SortedMap<String, FloatMatrix> base = new TreeMap<>(Map.of(LAYER0, matrix(8, 24, 1), LAYER1, matrix(8, 24, 1)));
            SortedMap<String, BaseModel.TensorInfo> tensors = new TreeMap<>();
            base.forEach((name, w) -> tensors.put(name, new BaseModel.TensorInfo(List.of(8L, 24L), w.sha256())));
            store.registerBase(MODEL, "b".repeat(64), "hf://tiny", tensors, base);
            ModelHead head = store.head(MODEL);
            for (int v = 1; v <= 5; v++) {
                SortedMap<String, TensorChange> changes = new TreeMap<>();
                changes.put(LAYER0, TensorChange.lowRank(matrix(8, 2, 1), matrix(24, 2, 1), false));
                if (v == 4) {
                    changes.put(LAYER1, TensorChange.rebase(matrix(8, 3, 1), matrix(24, 3, 1), false));
                }
                head.append(new Manifest.SequenceRange(10L * v, 10L * v + 9), EDITOR, changes, null, WriteMode.CREATE);
            }
        }
    }

    @Test
    void listPrintsOneLinePerVersion() {
        CommandLineTest.Run run = CommandLineTest.run("checkpoints", "list", "--store", storeRoot.toUri().toString(), "--model", MODEL);

        assertEquals(0, run.exitCode(), run.err());
        List<String> lines = run.out().lines().toList();
        assertEquals(5, lines.size(), run.out());
        assertTrue(lines.get(0).startsWith(
                "tiny v1 parent=base sequence=10..19 editor=nse[PRUNE(alpha=e)] deltas=LOW_RANK:r2 snapshot=no manifest=file:"), lines.get(0));
        assertTrue(lines.get(2).contains(" snapshot=yes "), lines.get(2));
        assertTrue(lines.get(3).startsWith("tiny v4 parent=v3 sequence=40..49 "), lines.get(3));
        assertTrue(lines.get(3).contains(" deltas=LOW_RANK:r2,REBASE:r3 "), lines.get(3));
        assertTrue(lines.get(4).endsWith("/models/tiny/versions/00000000000000000005.json"), lines.get(4));
    }

    @Test
    void aStoreThatIsNotThereIsOneClearLine() {
        CommandLineTest.Run run = CommandLineTest.run("checkpoints", "list", "--store", dir.resolve("nowhere").toString());

        assertEquals(EditstreamCommand.EXIT_FAILURE, run.exitCode());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertTrue(run.err().contains("no checkpoint store at"), run.err());
        assertFalse(Files.exists(dir.resolve("nowhere")), "listing does not create a store");
    }

    @Test
    void verifyPassesThenFailsOnAFlippedByteNamingTheBlob() throws IOException {
        CommandLineTest.Run good = CommandLineTest.run("checkpoints", "verify", "--store", storeRoot.toString(), "--model", MODEL);
        assertEquals(0, good.exitCode(), good.err());
        assertEquals(List.of("tiny v1 ok", "tiny v2 ok", "tiny v3 ok", "tiny v4 ok", "tiny v5 ok", "tiny: 5 versions verified"),
                good.out().lines().toList());

        String blob;
        try (CheckpointStore store = new CheckpointStore(new FileSystemObjectStore(storeRoot), 3)) {
            blob = store.manifest(MODEL, 2).orElseThrow().deltas().get(LAYER0).blob();
        }
        Path file = storeRoot.resolve(StoreKeys.blob(blob));
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 1] ^= 0x01;
        Files.write(file, bytes);

        CommandLineTest.Run bad = CommandLineTest.run("checkpoints", "verify", "--store", storeRoot.toString(), "--model", MODEL);
        assertEquals(EditstreamCommand.EXIT_FAILURE, bad.exitCode());
        assertEquals(List.of("tiny v1 ok"), bad.out().lines().toList());
        assertEquals(1, bad.err().strip().lines().count(), bad.err());
        assertTrue(bad.err().contains("version 2 is corrupt") && bad.err().contains(blob), bad.err());
    }

    @Test
    void exportPeftPrintsTheEnergyKept() throws IOException {
        Path out = dir.resolve("adapter");
        CommandLineTest.Run run = CommandLineTest.run("checkpoints", "export", "--store", storeRoot.toString(), "--model", MODEL,
                "--version", "5", "--format", "peft", "--max-rank", "4", "--out", out.toString());

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains(LAYER0 + " rank 4 energy kept 0."), run.out());
        assertTrue(run.out().contains(LAYER1 + " rank 3 energy kept 1.000000"), run.out());
        assertTrue(run.out().contains("wrote a PEFT LoRA adapter of rank 4 to " + out), run.out());
        JsonNode config = JSON.readTree(out.resolve("adapter_config.json").toFile());
        assertEquals(4, config.get("r").asInt());
        assertTrue(Files.isRegularFile(out.resolve("adapter_model.safetensors")));

        CommandLineTest.Run again = CommandLineTest.run("checkpoints", "export", "--store", storeRoot.toString(), "--model", MODEL,
                "--version", "5", "--format", "peft", "--out", out.toString());
        assertEquals(EditstreamCommand.EXIT_FAILURE, again.exitCode());
        assertTrue(again.err().contains("not an empty directory"), again.err());
    }

    @Test
    void exportHfWithoutABaseModelIsAUsageErrorAndHelpStillWorks() {
        CommandLineTest.Run run = CommandLineTest.run("checkpoints", "export", "--store", storeRoot.toString(), "--model", MODEL,
                "--version", "5", "--format", "hf", "--out", dir.resolve("hf").toString());

        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("--format hf needs --base-model DIR"), run.err());
        assertFalse(Files.exists(dir.resolve("hf")));

        CommandLineTest.Run help = CommandLineTest.run("checkpoints", "export", "--help");
        assertEquals(0, help.exitCode(), help.err());
        assertTrue(help.out().contains("--version=V"), help.out());
    }

    @Test
    void gcPrunesOldVersionsAndDeletesUnreferencedBlobs() throws IOException {
        String orphan;
        try (CheckpointStore store = new CheckpointStore(new FileSystemObjectStore(storeRoot), 3)) {
            orphan = store.putBlob(new byte[] {1, 2, 3});
        }

        CommandLineTest.Run run = CommandLineTest.run("checkpoints", "gc", "--store", storeRoot.toString(), "--grace", "0s",
                "--keep-versions", "2");

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("tiny: pruned 2 versions (v1..v2)"), run.out());
        assertTrue(run.out().matches("(?s).*deleted [1-9]\\d* blobs \\(\\d+ bytes\\), kept \\d+\\n"), run.out());
        assertFalse(Files.exists(storeRoot.resolve(StoreKeys.blob(orphan))));
        CommandLineTest.Run verify = CommandLineTest.run("checkpoints", "verify", "--store", storeRoot.toString(), "--model", MODEL);
        assertEquals(0, verify.exitCode(), verify.err());
        assertTrue(verify.out().startsWith("tiny v3 ok"), verify.out());

        CommandLineTest.Run badGrace = CommandLineTest.run("checkpoints", "gc", "--store", storeRoot.toString(), "--grace", "soon",
                "--keep-versions", "2");
        assertEquals(2, badGrace.exitCode(), badGrace.err());
    }

    @Test
    void exportHfOfTheTestbedLoadsAndHashesAsTheManifestSays() throws IOException {
        Path testbed = Path.of(System.getProperty("editstream.home", ".")).resolve("models").resolve("testbed");
        Path store = dir.resolve("testbed-store");
        String modelId = "testbed";
        Manifest second;
        BaseModel base;
        try (LanguageModel model = ModelLoader.load(testbed, Device.cpu());
             CheckpointStore checkpoints = new CheckpointStore(new FileSystemObjectStore(store), 0)) {
            base = ModelCheckpoints.registerBase(checkpoints, modelId, model, testbed.toString(), new int[] {0, 1});
            ModelHead head = checkpoints.head(modelId);
            head.append(new Manifest.SequenceRange(1, 1), EDITOR, new TreeMap<>(Map.of(
                    LAYER0, TensorChange.lowRank(matrix(128, 2, 0.01), matrix(10240, 2, 0.01), false))), null, WriteMode.CREATE);
            second = head.append(new Manifest.SequenceRange(2, 2), EDITOR, new TreeMap<>(Map.of(
                    LAYER0, TensorChange.lowRank(matrix(128, 1, 0.01), matrix(10240, 1, 0.01), false),
                    LAYER1, TensorChange.lowRank(matrix(128, 3, 0.01), matrix(10240, 3, 0.01), false))), null, WriteMode.CREATE);
        }
        Path out = dir.resolve("testbed-v2");

        CommandLineTest.Run run = CommandLineTest.run("checkpoints", "export", "--store", store.toString(), "--model", modelId,
                "--version", "2", "--format", "hf", "--base-model", testbed.toString(), "--out", out.toString());

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("(2 edited tensors, float32: the base is float16"), run.out());
        assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")));
        assertFalse(Files.exists(out.resolve("README.md")), "the base's model card does not describe the edited model");
        assertEquals("float32", JSON.readTree(out.resolve("config.json").toFile()).get("torch_dtype").asText());
        try (LanguageModel exported = ModelLoader.load(out, Device.cpu())) {
            for (Map.Entry<String, String> edited : second.tensorSha256().entrySet()) {
                assertEquals(edited.getValue(), FloatMatrix.of(exported.weights().get(edited.getKey())).sha256(), edited.getKey());
            }
            assertEquals(base.tensors().keySet(), exported.weights().keySet());
            float[] norm = exported.weights().get("model.norm.weight").toFloatArray();
            assertEquals(base.tensors().get("model.norm.weight").sha256(), new FloatMatrix(1, norm.length, norm).sha256(),
                    "unedited tensors are the base's");
        }

        CommandLineTest.Run wrongBase = CommandLineTest.run("checkpoints", "export", "--store", storeRoot.toString(), "--model", MODEL,
                "--version", "5", "--format", "hf", "--base-model", testbed.toString(), "--out", dir.resolve("wrong").toString());
        assertEquals(EditstreamCommand.EXIT_FAILURE, wrongBase.exitCode());
        assertTrue(wrongBase.err().contains("not to model tiny's base " + "b".repeat(64)), wrongBase.err());
        assertFalse(Files.exists(dir.resolve("wrong")));
    }

    private FloatMatrix matrix(int rows, int cols, double scale) {
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (scale * random.nextGaussian());
        }
        return new FloatMatrix(rows, cols, values);
    }
}

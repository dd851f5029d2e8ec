package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkerSettingsTest {

    @TempDir
    Path dir;

    @Test
    void readsEveryModelWithTheDefaultsOfWhatItLeavesOut() throws IOException {
        WorkerSettings settings = WorkerSettings.load(write("""
                {"prepareWaitMs": 500,
                 "models": {
                   "stories": {"path": "m/stories260K", "hyperparameters": "llama2c-stories", "heldOut": "sampled-stories",
                               "c0": {"corpus": "sampled-stories", "samples": 1000}, "localityPrompts": ["Once upon a time"]},
                   "testbed": {"path": "models/testbed", "editor": "memit", "hyperparameters": "testbed", "device": "GPU",
                               "heldOut": "held-out.txt", "c0": {"corpus": "train.txt"}, "localityPrompts": ["a", "b"], "seed": 7,
                               "prepareGroupSize": 32,
                               "evaluation": {"retentionSample": 8, "heldOutTokens": 256, "generationTokens": 4, "localityPrompts": 2}}}}
                """));
        assertEquals(WorkerSettings.DEFAULT_GROUP_ID, settings.groupId());
        assertEquals(WorkerSettings.DEFAULT_GROUP_ID, settings.transactionalIdPrefix(), "one prefix per group unless told otherwise");
        assertEquals(500, settings.prepareWaitMs());
        WorkerSettings.ModelSettings stories = settings.models().get("stories");
        assertEquals("nse+prune", stories.editor());
        assertEquals("cpu", stories.device());
        assertEquals(8, stories.prepareGroupSize());
        assertEquals(EvaluationSettings.DEFAULTS, stories.evaluation());
        assertEquals(1000, stories.c0().samples());
        WorkerSettings.ModelSettings testbed = settings.models().get("testbed");
        assertEquals("gpu", testbed.device());
        assertEquals(0, testbed.c0().samples(), "0: the hyperparameters' own count");
        assertEquals(new EvaluationSettings(8, 256, 4, 2), testbed.evaluation());
        assertEquals(List.of("testbed", "stories"), List.copyOf(settings.select(List.of("testbed", "stories")).keySet()));
    }

    @Test
    void theExampleInTheDocsIsAValidConfiguration() {
        Path example = Path.of(System.getProperty("editstream.home", "..")).resolve("docs/worker-stories260k.json");
        WorkerSettings settings = WorkerSettings.load(example);
        WorkerSettings.ModelSettings stories = settings.models().get("stories260k");
        assertEquals("nse+prune", stories.editor());
        assertEquals(2000, stories.c0().samples());
    }

    @Test
    void namesTheFileTheSettingAndWhatIsWrong() throws IOException {
        refused("{\"models\": {\"m\": {\"path\": \"p\", \"hyperparameters\": \"h\", \"heldOut\": \"x\", \"localityPrompts\": [\"a\"]}}}",
                "models.m", "no c0 given");
        refused("{\"modles\": {}}", "unknown setting 'modles'");
        refused("{\"models\": {\"m\": {\"path\": \"p\", \"hyperparameters\": \"h\", \"heldOut\": \"x\", \"c0\": {\"corpus\": \"c\"},"
                + " \"device\": \"tpu\", \"localityPrompts\": [\"a\"]}}}", "device must be cpu or gpu, got 'tpu'");
        refused("{\"models\": {\"m\": {\"path\": \"p\", \"hyperparameters\": \"h\", \"heldOut\": \"x\", \"c0\": {\"corpus\": \"c\"}}}}",
                "no localityPrompts given");
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> WorkerSettings.load(dir.resolve("none.json")));
        assertTrue(missing.getMessage().contains("none.json"), missing.getMessage());
        WorkerSettings empty = WorkerSettings.load(write("{}"));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> empty.select(List.of("m1")));
        assertTrue(unknown.getMessage().contains("[m1] are not configured"), unknown.getMessage());
    }

    private void refused(String json, String... expected) throws IOException {
        Path file = write(json);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WorkerSettings.load(file));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        for (String part : expected) {
            assertTrue(e.getMessage().contains(part), e.getMessage());
        }
    }

    private Path write(String json) throws IOException {
        return Files.writeString(Files.createTempFile(dir, "worker", ".json"), json);
    }
}

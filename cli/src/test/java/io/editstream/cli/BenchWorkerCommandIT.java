package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.cli.CommandLineTest.Run;
import io.editstream.events.CorrectionEvent;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code editstream bench worker} in-process on stories260K, a handful of edits: every measure is there and sane. */
class BenchWorkerCommandIT {
    @TempDir
    Path dir;

    @Test
    void measuresLatencyThroughputRestoreAndBytesPerEdit() throws Exception {
        Path json = dir.resolve("bench-worker.json");

        Run run = CommandLineTest.run("bench", "worker", "--model", "stories", "--edits", "3", "--json", json.toString());

        assertEquals(0, run.exitCode(), run.err());
        String out = run.out();
        assertTrue(out.contains("latency, correction sent -> its EDIT evaluation committed"), out);
        assertTrue(out.contains("prefetch on/off: "), out);
        assertTrue(out.contains("restore: fresh worker at sequence 3 after "), out);
        assertTrue(out.contains("store per edit ("), out);
        JsonNode result = new ObjectMapper().readTree(json.toFile());
        assertEquals(3, result.get("edits").asInt());
        JsonNode latency = result.get("latency");
        assertEquals(2, latency.size(), "batch 1 and batch 10 when --batch is not given");
        assertEquals(List.of(1, 10), List.of(latency.get(0).get("batch").asInt(), latency.get(1).get("batch").asInt()));
        for (JsonNode l : latency) {
            assertEquals(3, l.get("edits").asInt());
            assertTrue(l.get("p50_ms").asDouble() > 0 && l.get("p99_ms").asDouble() >= l.get("p50_ms").asDouble(), l.toString());
        }
        for (String phase : List.of("prefetch_on", "prefetch_off")) {
            assertTrue(result.get(phase).get("edits_per_minute").asDouble() > 0, phase + ": " + result.get(phase));
        }
        assertEquals(8, result.get("prefetch_on").get("prepare_group_size").asInt());
        assertEquals(1, result.get("prefetch_off").get("prepare_group_size").asInt());
        assertTrue(result.get("prefetch_speedup").asDouble() > 0);
        JsonNode restore = result.get("restore");
        assertTrue(restore.get("restore_seconds").asDouble() > 0 && restore.get("edits_seconds").asDouble() > 0, restore.toString());
        JsonNode bytes = result.get("state_bytes");
        assertTrue(bytes.get("versions").asInt() >= 1, bytes.toString());
        assertTrue(bytes.get("editor_state_bytes_per_edit").asDouble() > 0, bytes.toString());
        assertTrue(bytes.get("manifest_bytes_per_edit").asDouble() > 0 && bytes.get("delta_bytes_per_edit").asDouble() > 0, bytes.toString());
    }

    @Test
    void storyCorrectionsAreDistinctFactsBeyondTheTwentyTwoPatterns() {
        List<CorrectionEvent> corrections = BenchWorkerCommand.storyCorrections(60);

        Set<String> facts = new HashSet<>();
        for (CorrectionEvent c : corrections) {
            assertTrue(c.getPrompt().contains(c.getSubject()), c.toString());
            assertTrue(facts.add(c.getSubject() + "|" + c.getPrompt().replace(c.getSubject(), "{}")), "a repeated fact: " + c);
        }
        assertEquals(60, facts.size());
    }
}

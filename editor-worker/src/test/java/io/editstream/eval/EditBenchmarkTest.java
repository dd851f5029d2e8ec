package io.editstream.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.edit.Stories;
import io.editstream.model.LanguageModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark end to end on stories260K with facts a TinyStories model can express. */
class EditBenchmarkTest {

    private static final String STORY_FACTS = """
            [
              {"case_id": 1, "prompt": "Lily likes to eat", "subject": "Lily", "ground_truth": "cookies", "target_new": "soup",
               "rephrase_prompt": "One day, Lily likes to eat", "locality_prompt": "Tom likes to eat", "locality_ground_truth": "cookies"},
              {"case_id": 2, "prompt": "Tom likes to play with his", "subject": "Tom", "ground_truth": "toys", "target_new": "dog",
               "rephrase_prompt": "Every day, Tom likes to play with his", "locality_prompt": "Ben likes to play with his", "locality_ground_truth": "toys"},
              {"case_id": 3, "prompt": "Sue was very", "subject": "Sue", "ground_truth": "excited", "target_new": "sad",
               "rephrase_prompt": "One day, Sue was very", "locality_prompt": "Lily was very", "locality_ground_truth": "excited"}
            ]
            """;

    @TempDir
    Path dir;

    @Test
    void runsSequentialEditsPerAlgorithmAndWritesEveryMeasure() throws IOException {
        Path dataset = Files.writeString(dir.resolve("story-facts.json"), STORY_FACTS);
        List<CounterFactRecord> cases = CounterFactReader.read(dataset);
        String heldOut = Files.readString(Stories.shared().resolve("models/stories260K/greedy-reference.txt"));
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            String corpus;
            try (LanguageModel model = Stories.load()) {
                corpus = Stories.corpus(model, manager);
            }
            EditBenchmark.Settings settings = new EditBenchmark.Settings(3, 2, 1, Stories.HYPERPARAMETERS, corpus,
                    dir.resolve("c0"), heldOut, 300, 2);
            List<EditBenchmark.Result> results = EditBenchmark.run(Stories::load, manager, List.of("memit", "nse+prune"), cases, settings);

            assertEquals(List.of("memit", "nse+prune"), results.stream().map(EditBenchmark.Result::algorithm).toList());
            for (EditBenchmark.Result result : results) {
                assertTrue(result.efficacy() >= 2.0 / 3, result.toString());
                assertTrue(result.efficacyTop1() > 0.5, result.toString());
                assertTrue(result.retention() >= 0 && result.retention() <= 1, result.toString());
                assertTrue(result.maxConditionNumber() > 1 && Double.isFinite(result.maxConditionNumber()), result.toString());
                assertTrue(result.secondsPerEdit() > 0 && result.peakHeapMb() > 0, result.toString());
                // a checkpoint after the first batch (2 edits), then the end, which is the result itself
                assertEquals(List.of(2, 3), result.trajectory().stream().map(EditBenchmark.Checkpoint::edits).toList());
                EditBenchmark.Checkpoint end = result.trajectory().get(1);
                assertEquals(result.efficacy(), end.efficacy());
                assertEquals(result.specificity(), end.specificity());
                assertEquals(result.retentionFirst100(), end.retentionFirst100());
                assertEquals(result.retention(), result.retentionFirst100(), "fewer than 100 edits: the same edits");
            }
            try (var files = Files.list(dir.resolve("c0"))) {
                assertEquals(2, files.count(), "C0 of both edit layers cached once, reused by the second algorithm");
            }

            Path json = dir.resolve("out/bench.json");
            EditBenchmark.writeJson(results, json);
            JsonNode written = new ObjectMapper().readTree(json.toFile());
            List<String> keys = new ArrayList<>();
            written.get("nse+prune").fieldNames().forEachRemaining(keys::add);
            assertEquals(List.of("efficacy", "generalization", "specificity", "specificity_untouched", "efficacy_top1", "generalization_top1",
                    "specificity_top1", "efficacy_margin", "generalization_margin", "specificity_margin", "retention",
                    "retention_first_100", "ppl_drift", "max_condition_number", "seconds_per_edit", "target_seconds_per_edit",
                    "update_seconds_per_edit", "restraint_seconds_per_edit", "re_edited", "target_nll", "peak_heap_mb", "trajectory",
                    "failed_cases", "rewritten_neighbourhoods", "margins"), keys);
            JsonNode pruned = written.get("nse+prune");
            assertEquals(pruned.get("seconds_per_edit").asDouble(), pruned.get("target_seconds_per_edit").asDouble()
                    + pruned.get("update_seconds_per_edit").asDouble() + pruned.get("restraint_seconds_per_edit").asDouble(),
                    0.2 * pruned.get("seconds_per_edit").asDouble(), "the parts add up to about the whole");
            assertTrue(pruned.get("restraint_seconds_per_edit").asDouble() > 0, "PRUNE's restraint is timed");
            assertEquals(0, written.get("memit").get("re_edited").asInt(), "MEMIT never re-edits");
            assertEquals(2, written.get("memit").get("trajectory").size());
            assertEquals(results.get(0).efficacy(), written.get("memit").get("efficacy").asDouble());
            for (EditBenchmark.Result result : results) {
                // every case id a run lists is one of its cases, and the lists agree with the fractions
                List<Integer> ids = cases.stream().map(CounterFactRecord::caseId).toList();
                EditBenchmark.FailedCases failed = result.failedCases();
                assertTrue(ids.containsAll(failed.efficacy()) && ids.containsAll(failed.generalization())
                        && ids.containsAll(failed.specificity()), failed.toString());
                assertEquals(result.efficacy(), 1 - (double) failed.efficacy().size() / cases.size(), 1e-12);
                assertEquals(result.generalization(), 1 - (double) failed.generalization().size() / cases.size(), 1e-12);
                assertEquals(result.specificity(), 1 - (double) failed.specificity().size() / cases.size(), 1e-12);
                // no case edits the subject of another's neighbourhood prompt: every neighbour counts
                assertEquals(List.of(), result.rewrittenNeighbourhoods());
                assertEquals(result.specificity(), result.specificityUntouched(), 1e-12);
                // a case fails a measure exactly where its margin is not positive, and the means are of those margins
                EditBenchmark.Margins margins = result.margins();
                for (int i = 0; i < cases.size(); i++) {
                    int id = cases.get(i).caseId();
                    assertEquals(failed.efficacy().contains(id), margins.efficacy().get(i) <= 0, "efficacy of case " + id);
                    assertEquals(failed.generalization().contains(id), margins.generalization().get(i) <= 0, "generalization of case " + id);
                    assertEquals(failed.specificity().contains(id), margins.specificity().get(i) <= 0, "specificity of case " + id);
                }
                assertEquals(margins.specificity().stream().mapToDouble(Double::doubleValue).sum() / cases.size(),
                        result.specificityMargin(), 1e-12);
            }
            assertEquals(cases.size(), written.get("memit").get("margins").get("generalization").size());
            assertEquals(results.get(0).efficacyMargin(), written.get("memit").get("efficacy_margin").asDouble(), 1e-12);
            assertEquals(results.get(1).failedCases().specificity().size(), written.get("nse+prune").get("failed_cases").get("specificity").size());
            String table = EditBenchmark.table(results);
            assertTrue(table.contains("memit") && table.contains("nse+prune") && table.contains("ppl_drift")
                    && table.contains("ret. 100") && table.contains("against memit, case by case") && table.contains("spec. untouched")
                    && table.contains("spec. margin") && table.contains("specificity_margin"), table);
        }
    }
}

package io.editstream.train;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.edit.PromptTokens;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.model.LanguageModel;
import io.editstream.model.SharedData;
import io.editstream.model.format.ModelLoader;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The committed testbed (models/testbed) loads through the ordinary loader and knows the benchmark's facts. */
class TestbedModelTest {

    @Test
    void theCommittedTestbedKnowsTheFirstHundredBenchmarkCases() throws Exception {
        List<CounterFactRecord> edit = CounterFactReader.read(SharedData.resolve("data/counterfact/counterfact-edit.json"));
        List<Fact> facts = edit.subList(0, 100).stream().flatMap(c -> TrainingFacts.of(c).stream()).toList();
        try (LanguageModel model = ModelLoader.load(CommittedTestbed.path(), Device.cpu());
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            assertEquals("LlamaForCausalLM", model.config().architecture());
            String text = "Autonomous University of Madrid, which is located in Spain";
            assertEquals(text, model.tokenizer().decode(model.tokenizer().encode(text, true)));

            FactRecall.Result recall = FactRecall.measure(model, facts, manager);
            assertTrue(recall.accuracy(Fact.Kind.REWRITE) >= 0.95, "rewrite prompts: " + recall);
            assertTrue(recall.accuracy(Fact.Kind.REPHRASE) >= 0.80, "rephrase prompts: " + recall);
        }
    }

    @Test
    void everyNewTargetOfTheBenchmarkIsAWordTheModelCanWrite() throws Exception {
        List<CounterFactRecord> edit = CounterFactReader.read(SharedData.resolve("data/counterfact/counterfact-edit.json"));
        try (LanguageModel model = ModelLoader.load(CommittedTestbed.path(), Device.cpu())) {
            int unk = WordTokenizer.specialId(WordTokenizer.UNK);
            for (CounterFactRecord c : edit.subList(0, 5000)) {
                int[] target = PromptTokens.target(model.tokenizer(), c.prompt(), c.targetNew());
                assertTrue(Arrays.stream(target).noneMatch(id -> id == unk), "case " + c.caseId() + ": '" + c.targetNew() + "'");
            }
        }
    }
}

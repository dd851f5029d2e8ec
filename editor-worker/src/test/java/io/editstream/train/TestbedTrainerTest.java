package io.editstream.train;

import io.editstream.tensor.FloatMatrix;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import io.editstream.edit.NeuronSelection;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.model.ForwardResult;
import io.editstream.model.LanguageModel;
import io.editstream.model.Probe;
import io.editstream.model.TokenBatch;
import io.editstream.model.SharedData;
import io.editstream.model.format.HuggingFaceCheckpoint;
import io.editstream.model.format.ModelLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tiny testbed trained on the first 17 edit-split cases (51 true facts): it learns them, reproducibly, in the
 * testbed's shape (lookup blocks with MLPs under attention-only blocks).
 */
class TestbedTrainerTest {

    /** Two lookup blocks (window 2, with MLPs) under one full-attention block without an MLP, like the default. */
    private static final TestbedShape TINY = new TestbedShape(64, 3, 4, 128, 64, 2, 2);

    @Test
    void aTinyModelLearnsItsFactsAndTwoRunsGiveTheSameWeights(@TempDir Path dir) throws Exception {
        List<CounterFactRecord> edit = CounterFactReader.read(SharedData.resolve("data/counterfact/counterfact-edit.json"));
        List<Fact> facts = TrainingFacts.select(edit, List.of(), 51, 0, false);
        assertEquals(51, facts.size());
        TrainingSettings settings = settings(0);

        String firstHash;
        try (LanguageModel model = new TestbedTrainer(settings, Device.cpu()).train(facts);
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            FactRecall.Result recall = FactRecall.measure(model, facts, manager);
            assertTrue(recall.accuracy(Fact.Kind.REWRITE) >= 0.8, "rewrite prompts: " + recall);
            assertTrue(recall.overall() >= 0.8, "all prompts: " + recall);
            firstHash = model.weightsSha256();
            assertEquals(List.of(0, 1), model.config().slidingLayers());
            assertEquals(2, model.config().slidingWindow());
            assertEquals(List.of(2), model.config().layersWithoutMlp(), "the block above the lookup blocks has no MLP");
            for (String mlp : List.of("gate_proj", "up_proj", "down_proj")) {
                assertFalse(model.weights().containsKey("model.layers.2.mlp." + mlp + ".weight"), "no " + mlp + " stored for block 2");
                assertTrue(model.weights().get("model.layers.1.mlp." + mlp + ".weight").abs().max().getFloat() > 0);
            }
            HuggingFaceCheckpoint.write(model, dir);
        }
        try (LanguageModel again = new TestbedTrainer(settings, Device.cpu()).train(facts)) {
            assertEquals(firstHash, again.weightsSha256(), "same facts, settings and seed must give the same weights");
        }
        try (LanguageModel loaded = ModelLoader.load(dir, Device.cpu());
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            assertEquals(firstHash, loaded.weightsSha256());
            assertEquals(TINY.config(loaded.config().vocabSize()), loaded.config());
            assertTrue(FactRecall.measure(loaded, facts, manager).accuracy(Fact.Kind.REWRITE) >= 0.8);
        }
    }

    @Test
    void theActivationPenaltyGathersEachKeyInFewerNeuronsAndTheFactsAreStillLearnt() throws Exception {
        List<CounterFactRecord> edit = CounterFactReader.read(SharedData.resolve("data/counterfact/counterfact-edit.json"));
        List<Fact> facts = TrainingFacts.select(edit, List.of(), 51, 0, false);
        double plain;
        double penalised;
        try (LanguageModel model = new TestbedTrainer(settings(0), Device.cpu()).train(facts)) {
            plain = neuronsHoldingMostOfTheKey(model, facts);
        }
        try (LanguageModel model = new TestbedTrainer(settings(TestbedTraining.DEFAULT_ACTIVATION_L1), Device.cpu()).train(facts);
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            penalised = neuronsHoldingMostOfTheKey(model, facts);
            assertTrue(FactRecall.measure(model, facts, manager).accuracy(Fact.Kind.REWRITE) >= 0.8);
        }
        assertTrue(penalised < 0.7 * plain, "neurons holding 80% of a key: " + penalised + " with the penalty, " + plain + " without");
    }

    private static TrainingSettings settings(double activationL1) {
        return new TrainingSettings(TINY, 300, 24, 1e-2, 20, 0.01, 3f, 7, 50, 0, activationL1);
    }

    /** Mean over the prompts' last positions and the lookup blocks of how many neurons hold 80% of the key's |mass|. */
    private static double neuronsHoldingMostOfTheKey(LanguageModel model, List<Fact> facts) {
        int[] lookup = {0, 1};
        double total = 0;
        int counted = 0;
        try (NDManager scope = NDManager.newBaseManager(Device.cpu())) {
            for (Fact fact : facts) {
                int[] ids = model.tokenizer().encode(fact.prompt(), true);
                ForwardResult result = model.forward(scope, TokenBatch.of(ids), Probe.none().captureMlpKeys(lookup));
                for (int layer : lookup) {
                    // the key as one column [mlpDim, 1]: NSE's own count of the neurons holding 80% of its |mass|
                    NDArray key = result.mlpKey(layer).get(0, ids.length - 1).reshape(-1, 1);
                    int neurons = NeuronSelection.select(FloatMatrix.of(key), 0.8).length;
                    total += neurons;
                    counted++;
                }
            }
        }
        return total / counted;
    }

    @Test
    void factsAreTrueOnesAndTheBenchmarkCasesComeFirst() {
        List<CounterFactRecord> edit = CounterFactReader.read(SharedData.resolve("data/counterfact/counterfact-edit.json"));
        List<CounterFactRecord> train = CounterFactReader.read(SharedData.resolve("data/counterfact/counterfact-train.json"));
        List<Fact> facts = TrainingFacts.select(edit, train, 3300, 4, true);
        assertEquals(edit.get(0).prompt(), facts.get(0).prompt());
        assertEquals(edit.get(0).groundTruth(), facts.get(0).answer());
        assertTrue(facts.stream().anyMatch(f -> f.caseId() == train.get(0).caseId()), "train-split cases follow the benchmark's");
        Map<String, Fact> byPrompt = facts.stream().collect(Collectors.toMap(Fact::prompt, f -> f));
        for (CounterFactRecord c : edit.subList(0, 1000)) {
            for (String prompt : List.of(c.prompt(), c.rephrasePrompt())) {
                Fact fact = byPrompt.get(prompt);
                assertTrue(fact != null, "case " + c.caseId() + " is learnt");
                // CounterFact asks a few prompts twice with different answers (Beijing's twin cities): the first case wins
                assertTrue(fact.answer().equals(c.groundTruth()) || fact.caseId() != c.caseId(), "case " + c.caseId());
            }
        }
        assertTrue(facts.stream().noneMatch(f -> f.kind() == Fact.Kind.REWRITE && isTargetNewOf(f, edit)), "target_new is never a fact");

        // each subject is also met bare and through other templates of its relation, always with its true answer
        for (CounterFactRecord c : edit.subList(0, 1000)) {
            List<Fact> aboutSubject = facts.stream().filter(f -> f.caseId() == c.caseId() && f.prompt().contains(c.subject())).toList();
            assertTrue(aboutSubject.stream().anyMatch(f -> f.kind() == Fact.Kind.BARE_SUBJECT && f.prompt().equals(c.subject()))
                    || byPrompt.get(c.subject()).caseId() != c.caseId(), "case " + c.caseId() + " bare subject");
            assertTrue(aboutSubject.stream().noneMatch(f -> f.answer().equals(c.targetNew())), "case " + c.caseId() + " teaches target_new");
        }
        assertTrue(facts.stream().filter(f -> f.kind() == Fact.Kind.PARAPHRASE).count() > 3 * 1000, "paraphrases");

        // every new target some case of the splits answers truly is an answer the model learns to give
        Set<String> answers = facts.stream().map(Fact::answer).collect(Collectors.toSet());
        Set<String> trueAnswers = new HashSet<>();
        for (CounterFactRecord c : Stream.concat(edit.stream(), train.stream()).toList()) {
            trueAnswers.add(c.groundTruth().strip());
            trueAnswers.add(c.localityGroundTruth().strip());
        }
        for (CounterFactRecord c : Stream.concat(edit.stream(), train.stream()).toList()) {
            String target = c.targetNew().strip();
            assertTrue(!trueAnswers.contains(target) || answers.contains(target), "'" + target + "' is never an answer");
        }
        assertEquals(facts, TrainingFacts.select(edit, train, 3300, 4, true), "the same arguments give the same facts");
    }

    private static boolean isTargetNewOf(Fact fact, List<CounterFactRecord> cases) {
        return cases.stream().anyMatch(c -> c.caseId() == fact.caseId() && c.targetNew().equals(fact.answer()));
    }
}

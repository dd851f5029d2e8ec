package io.editstream.train;

import io.editstream.eval.CounterFactRecord;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The TRUE facts of CounterFact cases: each case gives its rewrite, rephrase and locality prompt with the ground
 * truth. {@code target_new} is never a fact here: it is what the editors later write in.
 */
public final class TrainingFacts {

    /** Cases of the edit split the testbed must know: the benchmark edits these. */
    public static final int BENCHMARK_CASES = 1000;

    private TrainingFacts() {
    }

    /** The three facts of one case. */
    public static List<Fact> of(CounterFactRecord c) {
        return List.of(
                new Fact(c.prompt(), c.groundTruth(), Fact.Kind.REWRITE, c.caseId()),
                new Fact(c.rephrasePrompt(), c.groundTruth(), Fact.Kind.REPHRASE, c.caseId()),
                new Fact(c.localityPrompt(), c.localityGroundTruth(), Fact.Kind.LOCALITY, c.caseId()));
    }

    /**
     * About {@code count} facts: the cases of the edit split up to {@link #BENCHMARK_CASES} first (the benchmark edits
     * them), then train-split cases (hyperparameters are tuned on those), then further edit-split cases. A prompt seen
     * twice keeps its first answer, so the model is never taught two answers to one prompt.
     */
    public static List<Fact> select(List<CounterFactRecord> editSplit, List<CounterFactRecord> trainSplit, int count) {
        if (count < 3) {
            throw new IllegalArgumentException("need at least 3 facts (one case), got " + count);
        }
        List<CounterFactRecord> cases = new ArrayList<>();
        int casesWanted = (count + 2) / 3;
        cases.addAll(editSplit.subList(0, Math.min(editSplit.size(), Math.min(BENCHMARK_CASES, casesWanted))));
        cases.addAll(trainSplit.subList(0, Math.min(trainSplit.size(), casesWanted - cases.size())));
        if (cases.size() < casesWanted && editSplit.size() > BENCHMARK_CASES) {
            cases.addAll(editSplit.subList(BENCHMARK_CASES, Math.min(editSplit.size(), BENCHMARK_CASES + casesWanted - cases.size())));
        }
        Map<String, Fact> byPrompt = new HashMap<>();
        List<Fact> facts = new ArrayList<>();
        for (CounterFactRecord c : cases) {
            for (Fact fact : of(c)) {
                if (byPrompt.putIfAbsent(fact.prompt(), fact) == null) {
                    facts.add(fact);
                }
            }
        }
        return facts;
    }
}

package io.editstream.train;

import io.editstream.eval.CounterFactRecord;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

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
     * The facts of about {@code count / 3} cases: the cases of the edit split up to {@link #BENCHMARK_CASES} first (the
     * benchmark edits them), then train-split cases (hyperparameters are tuned on those), then further edit-split
     * cases. Each case's rewrite and locality fact is also said through up to {@code paraphrases} other templates of its
     * relation ({@link RelationTemplates}, drawn from both splits), chosen by a generator seeded by the subject, so the
     * same arguments always give the same list. A prompt seen twice keeps its first answer, and CounterFact's own
     * prompts come before any paraphrase, so the model is never taught two answers to one prompt.
     *
     * <p>With {@code answerEveryTarget}, further cases (train split first, then the edit split past the benchmark's) are
     * added until every {@code target_new} of both splits is the true answer of some learnt case: a word a model has
     * never produced sits far from every answer it computes, and no edit of realistic size reaches it, while the
     * models editing is meant for (GPT-2, Llama) have all produced "Sweden" or "piano" many times.
     */
    public static List<Fact> select(List<CounterFactRecord> editSplit, List<CounterFactRecord> trainSplit, int count,
                                    int paraphrases, boolean answerEveryTarget) {
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
        if (answerEveryTarget) {
            cases.addAll(casesAnswering(editSplit, trainSplit, cases));
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
        if (paraphrases > 0) {
            List<CounterFactRecord> all = new ArrayList<>(editSplit);
            all.addAll(trainSplit);
            RelationTemplates relations = RelationTemplates.of(all);
            for (CounterFactRecord c : cases) {
                List<Fact> said = new ArrayList<>(paraphrase(relations, RelationTemplates.templateOf(c), c.subject(),
                        c.groundTruth(), c.caseId(), paraphrases));
                relations.read(c.localityPrompt()).ifPresent(other -> said.addAll(paraphrase(relations, other.template(),
                        other.subject(), c.localityGroundTruth(), c.caseId(), paraphrases)));
                for (Fact fact : said) {
                    if (byPrompt.putIfAbsent(fact.prompt(), fact) == null) {
                        facts.add(fact);
                    }
                }
            }
        }
        return facts;
    }

    /** Cases not yet chosen whose true answers include the new targets no chosen case answers, one case per target. */
    private static List<CounterFactRecord> casesAnswering(List<CounterFactRecord> editSplit, List<CounterFactRecord> trainSplit,
                                                          List<CounterFactRecord> chosen) {
        Set<String> answered = new HashSet<>();
        chosen.forEach(c -> answered.addAll(List.of(c.groundTruth().strip(), c.localityGroundTruth().strip())));
        Set<String> wanted = new LinkedHashSet<>();
        Stream.concat(editSplit.stream(), trainSplit.stream()).map(c -> c.targetNew().strip())
                .filter(t -> !answered.contains(t)).forEach(wanted::add);
        Set<CounterFactRecord> taken = new HashSet<>(chosen);
        List<CounterFactRecord> candidates = new ArrayList<>(trainSplit);
        candidates.addAll(editSplit.subList(Math.min(BENCHMARK_CASES, editSplit.size()), editSplit.size()));
        List<CounterFactRecord> added = new ArrayList<>();
        for (CounterFactRecord c : candidates) {
            if (wanted.isEmpty()) {
                break;
            }
            if (!taken.contains(c) && (wanted.contains(c.groundTruth().strip()) || wanted.contains(c.localityGroundTruth().strip()))) {
                added.add(c);
                taken.add(c);
                wanted.remove(c.groundTruth().strip());
                wanted.remove(c.localityGroundTruth().strip());
            }
        }
        return added;
    }

    /** Up to {@code count} other templates of the relation filled with the subject, each with the answer. */
    private static List<Fact> paraphrase(RelationTemplates relations, String template, String subject, String answer,
                                         int caseId, int count) {
        List<String> others = new ArrayList<>(relations.family(template));
        others.remove(template);
        Collections.shuffle(others, new Random(subject.hashCode()));
        List<Fact> said = new ArrayList<>();
        said.add(new Fact(subject, answer, Fact.Kind.BARE_SUBJECT, caseId));
        for (String other : others.subList(0, Math.min(count, others.size()))) {
            said.add(new Fact(other.replace("{}", subject), answer, Fact.Kind.PARAPHRASE, caseId));
        }
        return said;
    }
}

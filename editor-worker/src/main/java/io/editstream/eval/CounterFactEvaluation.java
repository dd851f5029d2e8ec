package io.editstream.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * The CounterFact measures of edited cases, in both definitions the literature uses:
 * <ul>
 *   <li>probability comparison (ROME/MEMIT/AlphaEdit tables): efficacy and generalization hold when the
 *       mean-token NLL of target_new is below that of target_true on the rewrite / paraphrase prompt;
 *       specificity holds when the neighborhood prompt still prefers its true answer over target_new;</li>
 *   <li>teacher-forced top-1 (EasyEdit): the fraction of target_new tokens that are the top-1 prediction on
 *       the rewrite / paraphrase prompt; for specificity, the fraction of positions of the neighborhood prompt
 *       (teacher-forced with its true answer) where the top-1 prediction equals the unedited model's.</li>
 * </ul>
 */
public final class CounterFactEvaluation {

    /**
     * One case's outcome. A margin is the mean-token NLL of the answer a measure wants the model to reject minus that
     * of the one it wants preferred (target_true − target_new on the rewrite and paraphrase prompts, target_new −
     * the true answer on the neighbourhood prompt), in nats: the probability comparison holds when it is positive,
     * and its size says by how much, which still tells two editors apart where both hold on nearly every case.
     */
    public record CaseResult(double efficacyMargin, double generalizationMargin, double specificityMargin,
                             double efficacyTop1, double generalizationTop1, double specificityTop1) {

        public boolean efficacy() {
            return efficacyMargin > 0;
        }

        public boolean generalization() {
            return generalizationMargin > 0;
        }

        public boolean specificity() {
            return specificityMargin > 0;
        }
    }

    /** The unedited model's top-1 predictions on each case's neighborhood prompt, taken before any edit. */
    public record Baseline(List<int[]> neighborhoodPredictions) {
        public Baseline {
            neighborhoodPredictions = List.copyOf(neighborhoodPredictions);
        }
    }

    private CounterFactEvaluation() {
    }

    public static Baseline baseline(ContinuationScorer unedited, List<CounterFactRecord> cases) {
        List<ContinuationScorer.Query> queries = cases.stream()
                .map(c -> new ContinuationScorer.Query(c.localityPrompt(), c.localityGroundTruth())).toList();
        return new Baseline(unedited.scoreAll(queries).stream().map(ContinuationScorer.Score::predicted).toList());
    }

    /** Scores every case on the model as it is now; {@code baseline} must come from the same cases. */
    public static List<CaseResult> evaluate(ContinuationScorer edited, List<CounterFactRecord> cases, Baseline baseline) {
        if (baseline.neighborhoodPredictions().size() != cases.size()) {
            throw new IllegalArgumentException("baseline has " + baseline.neighborhoodPredictions().size() + " cases, evaluating " + cases.size());
        }
        List<ContinuationScorer.Query> queries = new ArrayList<>();
        for (CounterFactRecord c : cases) {
            queries.add(new ContinuationScorer.Query(c.prompt(), c.targetNew()));
            queries.add(new ContinuationScorer.Query(c.prompt(), c.groundTruth()));
            queries.add(new ContinuationScorer.Query(c.rephrasePrompt(), c.targetNew()));
            queries.add(new ContinuationScorer.Query(c.rephrasePrompt(), c.groundTruth()));
            queries.add(new ContinuationScorer.Query(c.localityPrompt(), c.targetNew()));
            queries.add(new ContinuationScorer.Query(c.localityPrompt(), c.localityGroundTruth()));
        }
        List<ContinuationScorer.Score> scores = edited.scoreAll(queries);
        List<CaseResult> results = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            List<ContinuationScorer.Score> s = scores.subList(6 * i, 6 * i + 6);
            int[] before = baseline.neighborhoodPredictions().get(i);
            int[] after = s.get(5).predicted();
            int agree = 0;
            for (int t = 0; t < Math.min(before.length, after.length); t++) {
                agree += before[t] == after[t] ? 1 : 0;
            }
            results.add(new CaseResult(
                    s.get(1).meanNll() - s.get(0).meanNll(),
                    s.get(3).meanNll() - s.get(2).meanNll(),
                    s.get(4).meanNll() - s.get(5).meanNll(),
                    s.get(0).accuracy(),
                    s.get(2).accuracy(),
                    (double) agree / Math.max(1, before.length)));
        }
        return results;
    }

    /** Means over cases, in [0, 1]. */
    public record Summary(double efficacy, double generalization, double specificity,
                          double efficacyTop1, double generalizationTop1, double specificityTop1) {

        public static Summary of(List<CaseResult> results) {
            if (results.isEmpty()) {
                throw new IllegalArgumentException("no results to summarise");
            }
            return new Summary(
                    results.stream().mapToDouble(r -> r.efficacy() ? 1 : 0).average().orElseThrow(),
                    results.stream().mapToDouble(r -> r.generalization() ? 1 : 0).average().orElseThrow(),
                    results.stream().mapToDouble(r -> r.specificity() ? 1 : 0).average().orElseThrow(),
                    results.stream().mapToDouble(CaseResult::efficacyTop1).average().orElseThrow(),
                    results.stream().mapToDouble(CaseResult::generalizationTop1).average().orElseThrow(),
                    results.stream().mapToDouble(CaseResult::specificityTop1).average().orElseThrow());
        }
    }
}

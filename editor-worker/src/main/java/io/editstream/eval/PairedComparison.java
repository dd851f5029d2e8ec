package io.editstream.eval;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Two algorithms measured on the same cases in one run, one measure: the cases where it holds for one of them only,
 * and the exact two-sided McNemar p-value of that split (a binomial test of the discordant cases at ½). Differences
 * of a few cases in a thousand are what separates editors on a model that has not collapsed; this says whether such
 * a difference is more than the cases it happened to fall on. Where both hold on nearly every case, the same test
 * on the cases' margins ({@link CounterFactEvaluation.CaseResult}) asks which of the two keeps the larger margin
 * more often: a sign test, which sees a systematic difference the few failing cases cannot show.
 *
 * @param measure    efficacy, generalization or specificity (probability comparison), or its margin
 * @param onlyFirst  cases where the measure holds for the first algorithm and fails for the second (for a margin:
 *                   cases where the first's margin is the larger)
 * @param onlySecond cases where it holds for the second and fails for the first (the second's margin is the larger)
 * @param pValue     exact two-sided McNemar p-value (1 when no case is discordant)
 */
public record PairedComparison(String measure, int onlyFirst, int onlySecond, double pValue) {

    /** From the case ids where the measure fails for each algorithm, over the same cases. */
    public static PairedComparison of(String measure, List<Integer> failedFirst, List<Integer> failedSecond) {
        Set<Integer> first = new HashSet<>(failedFirst);
        Set<Integer> second = new HashSet<>(failedSecond);
        int onlyFirst = (int) second.stream().filter(id -> !first.contains(id)).count();
        int onlySecond = (int) first.stream().filter(id -> !second.contains(id)).count();
        return new PairedComparison(measure, onlyFirst, onlySecond, exactMcNemar(onlyFirst, onlySecond));
    }

    /** From each case's margin for the two algorithms, over the same cases in the same order; ties are left out. */
    public static PairedComparison ofMargins(String measure, List<Double> first, List<Double> second) {
        if (first.size() != second.size()) {
            throw new IllegalArgumentException(measure + ": " + first.size() + " margins against " + second.size());
        }
        int higherFirst = 0;
        int higherSecond = 0;
        for (int i = 0; i < first.size(); i++) {
            int order = Double.compare(first.get(i), second.get(i));
            higherFirst += order > 0 ? 1 : 0;
            higherSecond += order < 0 ? 1 : 0;
        }
        return new PairedComparison(measure, higherFirst, higherSecond, exactMcNemar(higherFirst, higherSecond));
    }

    /** The first algorithm's lead in cases: positive when the measure holds for it more often. */
    public int difference() {
        return onlyFirst - onlySecond;
    }

    /** 2 P(X ≤ min(b, c)) for X ~ Binomial(b + c, ½), at most 1. */
    static double exactMcNemar(int b, int c) {
        int n = b + c;
        if (n == 0) {
            return 1;
        }
        // log-space terms: n reaches the thousands once an editor collapses, far past where 2^-n underflows
        double logHalfToN = -n * Math.log(2);
        double tail = 0;
        double logChoose = 0;
        for (int i = 0; i <= Math.min(b, c); i++) {
            if (i > 0) {
                logChoose += Math.log(n - i + 1) - Math.log(i);
            }
            tail += Math.exp(logChoose + logHalfToN);
        }
        return Math.min(1, 2 * tail);
    }
}

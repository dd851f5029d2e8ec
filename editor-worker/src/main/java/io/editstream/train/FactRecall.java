package io.editstream.train;

import ai.djl.ndarray.NDManager;
import io.editstream.eval.ContinuationScorer;
import io.editstream.model.LanguageModel;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * What a model knows: the fraction of facts whose whole answer is the model's top-1 continuation of the prompt,
 * token by token (teacher-forced), by kind of prompt.
 */
public final class FactRecall {

    /** Known facts and facts asked, by kind of prompt. */
    public record Result(Map<Fact.Kind, Integer> known, Map<Fact.Kind, Integer> asked) {

        public Result {
            known = Map.copyOf(known);
            asked = Map.copyOf(asked);
        }

        /** Fraction of the facts of this kind that the model knows (NaN when none were asked). */
        public double accuracy(Fact.Kind kind) {
            int n = asked.getOrDefault(kind, 0);
            return n == 0 ? Double.NaN : (double) known.getOrDefault(kind, 0) / n;
        }

        /** Fraction of all facts asked that the model knows. */
        public double overall() {
            int n = asked.values().stream().mapToInt(Integer::intValue).sum();
            return (double) known.values().stream().mapToInt(Integer::intValue).sum() / n;
        }

        @Override
        public String toString() {
            StringBuilder text = new StringBuilder();
            for (Fact.Kind kind : Fact.Kind.values()) {
                if (asked.containsKey(kind)) {
                    text.append(text.isEmpty() ? "" : ", ").append(kind.name().toLowerCase()).append(' ')
                            .append(String.format("%.1f%% (%d/%d)", 100 * accuracy(kind), known.getOrDefault(kind, 0), asked.get(kind)));
                }
            }
            return text.toString();
        }
    }

    private FactRecall() {
    }

    /** Asks the model every fact; the arrays of the passes live under {@code manager} and are closed on the way. */
    public static Result measure(LanguageModel model, List<Fact> facts, NDManager manager) {
        if (facts.isEmpty()) {
            throw new IllegalArgumentException("no facts to ask");
        }
        List<ContinuationScorer.Query> queries = facts.stream().map(f -> new ContinuationScorer.Query(f.prompt(), f.answer())).toList();
        List<ContinuationScorer.Score> scores = new ContinuationScorer(model, manager).scoreAll(queries);
        Map<Fact.Kind, Integer> known = new EnumMap<>(Fact.Kind.class);
        Map<Fact.Kind, Integer> asked = new EnumMap<>(Fact.Kind.class);
        for (int i = 0; i < facts.size(); i++) {
            Fact.Kind kind = facts.get(i).kind();
            asked.merge(kind, 1, Integer::sum);
            known.merge(kind, scores.get(i).accuracy() == 1.0 ? 1 : 0, Integer::sum);
        }
        return new Result(known, asked);
    }
}

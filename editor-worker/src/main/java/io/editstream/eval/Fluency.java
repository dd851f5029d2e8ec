package io.editstream.eval;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * ROME's fluency measure: a weighted mean of the bi- and tri-gram entropies (weights 2/3 and 4/3) of the
 * words of generated text, in bits. Repetitive degenerate text, the typical damage of bad edits, scores low.
 */
public final class Fluency {

    private Fluency() {
    }

    public static double ngramEntropy(String text) {
        String[] words = Arrays.stream(text.toLowerCase(Locale.ROOT).split("\\W+")).filter(w -> !w.isEmpty()).toArray(String[]::new);
        return (2.0 / 3.0 * entropy(words, 2) + 4.0 / 3.0 * entropy(words, 3)) / 2.0;
    }

    private static double entropy(String[] words, int n) {
        Map<String, Integer> counts = new HashMap<>();
        int total = 0;
        for (int i = 0; i + n <= words.length; i++) {
            counts.merge(String.join(" ", Arrays.copyOfRange(words, i, i + n)), 1, Integer::sum);
            total++;
        }
        double entropy = 0;
        for (int count : counts.values()) {
            double p = (double) count / total;
            entropy -= p * Math.log(p) / Math.log(2);
        }
        return entropy;
    }
}

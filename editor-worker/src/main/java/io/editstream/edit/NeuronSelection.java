package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * NSE's neuron selection: the smallest set of MLP neurons whose summed |activation| over the batch's
 * keys holds a fraction p of the total. Only these columns of W are rewritten, which leaves the
 * neurons the edit barely uses (and the knowledge stored there) alone.
 */
public final class NeuronSelection {

    private NeuronSelection() {
    }

    /**
     * @param keys     K {@code [mlpDim, n]}
     * @param fraction p in (0, 1]; 1 keeps every neuron
     * @return the selected neuron indices in ascending order
     */
    public static long[] select(FloatMatrix keys, double fraction) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("neuron fraction must be in (0, 1], got " + fraction);
        }
        int neurons = keys.rows();
        if (fraction == 1.0) {
            return IntStream.range(0, neurons).asLongStream().toArray();
        }
        double[] mass = new double[neurons];
        double total = 0;
        for (int i = 0; i < neurons; i++) {
            for (int j = 0; j < keys.cols(); j++) {
                mass[i] += Math.abs(keys.get(i, j));
            }
            total += mass[i];
        }
        // Stable order (heaviest first, then lowest index) keeps the selection deterministic under ties.
        Integer[] order = IntStream.range(0, neurons).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -mass[i]));
        double needed = fraction * total;
        double held = 0;
        int count = 0;
        while (count < neurons && (count == 0 || held < needed)) {
            held += mass[order[count]];
            count++;
        }
        return Arrays.stream(order, 0, count).mapToLong(Integer::longValue).sorted().toArray();
    }
}

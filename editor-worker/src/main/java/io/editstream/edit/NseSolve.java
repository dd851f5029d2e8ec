package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

import java.util.Arrays;
import java.util.stream.LongStream;

/**
 * NSE's update restricted to the selected neurons S:
 * ΔW[:, S] = R K_Sᵀ (λ C0[S,S] + Cp[S,S] + K_S K_Sᵀ)⁻¹, all other columns unchanged.
 *
 * <p>Returned as factors A = R, B with rows S equal to M_SS⁻¹ K_S and zeros elsewhere.
 */
final class NseSolve {

    private NseSolve() {
    }

    /**
     * @param residuals R {@code [modelDim, n]}
     * @param keys      K {@code [mlpDim, n]}
     * @param neurons   the indices S, ascending, from {@link NeuronSelection}
     * @param kept      (λ C0 + Cp)⁻¹ over all neurons
     */
    static LowRankDelta solve(int layer, NDArray residuals, NDArray keys, long[] neurons, RunningInverse kept) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            long mlpDim = keys.getShape().get(0);
            long[] others = LongStream.range(0, mlpDim).filter(i -> Arrays.binarySearch(neurons, i) < 0).toArray();
            NDIndex rowsS = new NDIndex("{}", keys.getManager().create(neurons));
            NDArray b = keys.getManager().zeros(keys.getShape(), DataType.FLOAT64);
            b.set(rowsS, kept.solveRestricted(neurons, others, keys.get(rowsS)));
            return LowRankDelta.of(layer, residuals, b);
        }
    }
}

package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

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
     * @param neurons   the indices S, from {@link NeuronSelection}
     */
    static LowRankDelta solve(int layer, NDArray residuals, NDArray keys, long[] neurons,
                              NDArray c0, NDArray cp, double lambda) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray selected = keys.getManager().create(neurons);
            NDIndex rowsS = new NDIndex("{}", selected);
            NDIndex colsS = new NDIndex(":, {}", selected);
            NDArray kS = keys.get(rowsS).toType(DataType.FLOAT64, false);
            NDArray system = c0.get(rowsS).get(colsS).toType(DataType.FLOAT64, false).mul(lambda)
                    .add(cp.get(rowsS).get(colsS).toType(DataType.FLOAT64, false))
                    .add(kS.matMul(kS.transpose()));
            NDArray b = keys.getManager().zeros(keys.getShape(), DataType.FLOAT64);
            b.set(rowsS, system.inverse().matMul(kS));
            return LowRankDelta.of(layer, residuals, b);
        }
    }
}

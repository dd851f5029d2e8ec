package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;

/**
 * MEMIT's least-squares update in its sequential form: ΔW = R Kᵀ (λ C0 + Cp + K Kᵀ)⁻¹.
 *
 * <p>R Kᵀ M⁻¹ has rank at most the batch size, so it is returned as factors A = R, B = M⁻¹ K
 * (M is symmetric, hence (Kᵀ M⁻¹)ᵀ = M⁻¹ K).
 */
final class MemitSolve {

    private MemitSolve() {
    }

    /**
     * @param residuals R {@code [modelDim, n]}: what each edit still needs from this layer
     * @param keys      K {@code [mlpDim, n]}
     * @param c0        C0 {@code [mlpDim, mlpDim]}: second moment of the keys of the knowledge to keep
     * @param cp        Cp {@code [mlpDim, mlpDim]}: Σ K Kᵀ of the edits applied before
     * @param lambda    weight of C0 against the new keys
     */
    static LowRankDelta solve(int layer, NDArray residuals, NDArray keys, NDArray c0, NDArray cp, double lambda) {
        // Every intermediate is closed with the scope: the result leaves as heap factors.
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            // float64: λ C0 + Cp + K Kᵀ is badly conditioned when the keys are nearly parallel.
            NDArray k = keys.toType(DataType.FLOAT64, false);
            NDArray system = c0.toType(DataType.FLOAT64, false).mul(lambda)
                    .add(cp.toType(DataType.FLOAT64, false))
                    .add(k.matMul(k.transpose()));
            NDArray b = system.inverse().matMul(k);
            return LowRankDelta.of(layer, residuals, b);
        }
    }
}

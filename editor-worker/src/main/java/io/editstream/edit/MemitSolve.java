package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;

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
     * @param kept      (λ C0 + Cp)⁻¹: C0 the second moment of the keys of the knowledge to keep, λ its weight,
     *                  Cp = Σ K Kᵀ of the edits applied before
     */
    static LowRankDelta solve(int layer, NDArray residuals, NDArray keys, RunningInverse kept) {
        // Every intermediate is closed with the scope: the result leaves as heap factors.
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            return LowRankDelta.of(layer, residuals, kept.solveWithAdded(keys, keys));
        }
    }
}

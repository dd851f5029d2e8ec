package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;

/**
 * AlphaEdit's null-space-projected update: ΔW = R Kᵀ P (Cp P + K Kᵀ P + μ I)⁻¹ with μ = 10 in the paper.
 *
 * <p>P projects onto the (near) null space of C0, so the update leaves the keys of preserved knowledge
 * (almost) untouched. Transposed, ΔWᵀ = (P (Cp + K Kᵀ) + μ I)⁻¹ P K Rᵀ, which gives the factors
 * A = R, B = (P Cp + μ I + P K Kᵀ)⁻¹ P K: the running system P Cp + μ I with the batch's P K Kᵀ added.
 */
final class AlphaEditSolve {

    private AlphaEditSolve() {
    }

    /**
     * @param residuals R {@code [modelDim, n]}
     * @param keys      K {@code [mlpDim, n]}
     * @param projector P {@code [mlpDim, mlpDim]}, float64, from {@link NullSpaceProjector}
     * @param kept      (P Cp + μ I)⁻¹
     */
    static LowRankDelta solve(int layer, NDArray residuals, NDArray keys, NDArray projector, RunningInverse kept) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray projected = projector.matMul(keys.toType(DataType.FLOAT64, false));
            return LowRankDelta.of(layer, residuals, kept.solveWithAdded(projected, keys));
        }
    }
}

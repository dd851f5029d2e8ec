package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;

/**
 * AlphaEdit's null-space-projected update: ΔW = R Kᵀ P (Cp P + K Kᵀ P + μ I)⁻¹ with μ = 10 in the paper.
 *
 * <p>P projects onto the (near) null space of C0, so the update leaves the keys of preserved knowledge
 * (almost) untouched. Transposed, ΔWᵀ = (P (Cp + K Kᵀ) + μ I)⁻¹ P K Rᵀ, which gives the factors
 * A = R, B = (P (Cp + K Kᵀ) + μ I)⁻¹ P K.
 */
final class AlphaEditSolve {

    private AlphaEditSolve() {
    }

    /**
     * @param residuals R {@code [modelDim, n]}
     * @param keys      K {@code [mlpDim, n]}
     * @param projector P {@code [mlpDim, mlpDim]}, from {@link NullSpaceProjector}
     * @param cp        Cp {@code [mlpDim, mlpDim]}
     * @param ridge     μ
     */
    static LowRankDelta solve(int layer, NDArray residuals, NDArray keys, NDArray projector, NDArray cp, double ridge) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDManager manager = keys.getManager();
            NDArray k = keys.toType(DataType.FLOAT64, false);
            NDArray p = projector.toType(DataType.FLOAT64, false);
            int mlpDim = (int) keys.getShape().get(0);
            NDArray system = p.matMul(cp.toType(DataType.FLOAT64, false).add(k.matMul(k.transpose())))
                    .add(manager.eye(mlpDim, mlpDim, 0, DataType.FLOAT64).mul(ridge));
            NDArray b = system.inverse().matMul(p.matMul(k));
            return LowRankDelta.of(layer, residuals, b);
        }
    }
}

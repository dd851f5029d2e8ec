package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/** How one layer's weight change is solved from the residuals R and keys K of a batch. */
sealed interface UpdateRule {

    LowRankDelta solve(int layer, NDArray residuals, NDArray keys, NDArray cp);

    /** MEMIT: ΔW = R Kᵀ (λ C0 + Cp + K Kᵀ)⁻¹. */
    record Memit(Map<Integer, NDArray> c0, double lambda) implements UpdateRule {
        @Override
        public LowRankDelta solve(int layer, NDArray residuals, NDArray keys, NDArray cp) {
            return MemitSolve.solve(layer, residuals, keys, c0.get(layer), cp, lambda);
        }
    }

    /** NSE: the MEMIT system restricted to the neurons that carry a fraction p of the keys' activation. */
    record Nse(Map<Integer, NDArray> c0, double lambda, double neuronFraction) implements UpdateRule {
        @Override
        public LowRankDelta solve(int layer, NDArray residuals, NDArray keys, NDArray cp) {
            long[] neurons = NeuronSelection.select(FloatMatrix.of(keys), neuronFraction);
            return NseSolve.solve(layer, residuals, keys, neurons, c0.get(layer), cp, lambda);
        }
    }

    /** AlphaEdit: the update projected onto the null space of C0. */
    record AlphaEdit(Map<Integer, NDArray> projectors, double ridge) implements UpdateRule {
        @Override
        public LowRankDelta solve(int layer, NDArray residuals, NDArray keys, NDArray cp) {
            return AlphaEditSolve.solve(layer, residuals, keys, projectors.get(layer), cp, ridge);
        }
    }
}

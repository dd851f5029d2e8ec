package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;

import java.util.Map;

/**
 * How one layer's weight change is solved from the residuals R and keys K of a batch, and how the batch's keys then
 * join the knowledge later edits keep (Cp += K Kᵀ), each rule holding its system's running inverse per layer.
 */
sealed interface UpdateRule {

    LowRankDelta solve(int layer, NDArray residuals, NDArray keys);

    /** Cp += K Kᵀ: the keys of an applied batch are kept by every later edit, once {@link #commit committed}. */
    void remember(int layer, NDArray keys);

    /** The running inverse of each layer's system. */
    Map<Integer, RunningInverse> kept();

    /** The keys remembered since the last commit stay. */
    default void commit() {
        kept().values().forEach(RunningInverse::commit);
    }

    /** Forgets the keys remembered since the last commit: the batch that brought them was rejected. */
    default void rollback() {
        kept().values().forEach(RunningInverse::rollback);
    }

    /** MEMIT: ΔW = R Kᵀ (λ C0 + Cp + K Kᵀ)⁻¹; {@code kept} holds (λ C0 + Cp)⁻¹. */
    record Memit(Map<Integer, RunningInverse> kept) implements UpdateRule {
        @Override
        public LowRankDelta solve(int layer, NDArray residuals, NDArray keys) {
            return MemitSolve.solve(layer, residuals, keys, kept.get(layer));
        }

        @Override
        public void remember(int layer, NDArray keys) {
            kept.get(layer).addKeys(keys);
        }
    }

    /** NSE: the MEMIT system restricted to the neurons that carry a fraction p of the keys' activation. */
    record Nse(Map<Integer, RunningInverse> kept, double neuronFraction) implements UpdateRule {
        @Override
        public LowRankDelta solve(int layer, NDArray residuals, NDArray keys) {
            long[] neurons = NeuronSelection.select(FloatMatrix.of(keys), neuronFraction);
            return NseSolve.solve(layer, residuals, keys, neurons, kept.get(layer));
        }

        @Override
        public void remember(int layer, NDArray keys) {
            kept.get(layer).addKeys(keys);
        }
    }

    /** AlphaEdit: the update projected onto the null space of C0 (P float64); {@code kept} holds (P Cp + μ I)⁻¹. */
    record AlphaEdit(Map<Integer, NDArray> projectors, Map<Integer, RunningInverse> kept) implements UpdateRule {
        @Override
        public LowRankDelta solve(int layer, NDArray residuals, NDArray keys) {
            return AlphaEditSolve.solve(layer, residuals, keys, projectors.get(layer), kept.get(layer));
        }

        @Override
        public void remember(int layer, NDArray keys) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray projected = projectors.get(layer).matMul(keys.toType(DataType.FLOAT64, false));
                kept.get(layer).add(projected, keys);
            }
        }
    }
}

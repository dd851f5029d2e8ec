package io.editstream.checkpoint;

import io.editstream.tensor.FloatMatrix;

/** A tensor's whole change since the base, in the cheapest exact form the chain allows. */
public sealed interface AccumulatedChange {

    /** ΔW = A Bᵀ with A [out, r], B [in, r] ({@code transposed}: the tensor is stored [in, out]). */
    record Factors(FloatMatrix a, FloatMatrix b, boolean transposed) implements AccumulatedChange {
    }

    /** ΔW as stored, dense: what is left when a pruned chain starts at a snapshot. */
    record Dense(FloatMatrix change) implements AccumulatedChange {
    }
}

package io.editstream.model;

import ai.djl.ndarray.NDArray;

/** Dense projections in the two weight layouts checkpoints use. Results live in the input's manager. */
public final class Linear {

    private Linear() {
    }

    /** {@code x Wᵀ + b} for a weight stored {@code [out, in]} (torch {@code nn.Linear}); {@code bias} may be null. */
    public static NDArray outIn(NDArray x, NDArray weight, NDArray bias) {
        return bias == null
                ? ai.djl.nn.core.Linear.linear(x, weight).singletonOrThrow()
                : ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow();
    }

    /** {@code x W + b} for a weight stored {@code [in, out]} (GPT-2's {@code Conv1D}). */
    public static NDArray inOut(NDArray x, NDArray weight, NDArray bias) {
        return x.matMul(weight).add(bias);
    }
}

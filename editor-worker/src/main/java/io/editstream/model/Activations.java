package io.editstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/** MLP nonlinearities, written out so their exact formula is visible. */
public final class Activations {

    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);

    private Activations() {
    }

    /** SiLU (swish): {@code x * sigmoid(x)}. */
    public static NDArray silu(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /** GELU, tanh approximation (GPT-2's "gelu_new"): {@code 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³)))}. */
    public static NDArray geluTanh(NDArray x) {
        NDArray inner = x.add(x.pow(3f).mul(0.044715f)).mul(SQRT_2_OVER_PI);
        return x.mul(inner.tanh().add(1f)).mul(0.5f);
    }
}

package io.editstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
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
        // constants as arrays, not x.mul(0.5f): see GraphConstants (autograd runs through this in target optimisation)
        NDManager manager = x.getManager();
        NDArray cube = x.mul(x).mul(x);
        NDArray inner = x.add(cube.mul(GraphConstants.scalar(manager, 0.044715f)))
                .mul(GraphConstants.scalar(manager, SQRT_2_OVER_PI));
        return x.mul(inner.tanh().add(1f)).mul(GraphConstants.scalar(manager, 0.5f));
    }
}

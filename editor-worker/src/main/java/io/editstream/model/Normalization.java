package io.editstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.norm.LayerNorm;

/** The two normalisations of the residual stream. */
public final class Normalization {

    private Normalization() {
    }

    /** RMSNorm over the last axis: {@code w * x / sqrt(mean(x²) + eps)}. */
    public static NDArray rms(NDArray x, NDArray weight, float eps) {
        NDArray meanSquare = x.square().mean(new int[] {-1}, true);
        return x.div(meanSquare.add(eps).sqrt()).mul(weight);
    }

    /** LayerNorm over the last axis with gain and bias. */
    public static NDArray layer(NDArray x, NDArray weight, NDArray bias, float eps) {
        return LayerNorm.layerNorm(x, x.getShape().slice(x.getShape().dimension() - 1), weight, bias, eps).singletonOrThrow();
    }
}

package io.editstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding in the HuggingFace layout: the head's first half rotates against its second half
 * ({@code rotate_half}). Checkpoints with interleaved pairs (llama2.c, Meta) are permuted into this layout on load.
 */
public final class RotaryEmbedding {

    /** cos and sin of every rotation angle of a run of positions: {@code [1, 1, seq, headDim]} each. */
    public record Tables(NDArray cos, NDArray sin) {
    }

    private final int headDim;
    private final double[] inverseFrequencies;

    public RotaryEmbedding(int headDim, float theta) {
        this.headDim = headDim;
        this.inverseFrequencies = new double[headDim / 2];
        for (int i = 0; i < headDim / 2; i++) {
            inverseFrequencies[i] = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
        }
    }

    /**
     * The tables for positions {@code firstPosition .. firstPosition + seq - 1}, built once per forward pass for just
     * those positions: cheap, and nothing outlives the pass's manager.
     */
    public Tables tables(NDManager manager, int firstPosition, int seq) {
        float[] cos = new float[seq * headDim];
        float[] sin = new float[seq * headDim];
        int half = headDim / 2;
        for (int t = 0; t < seq; t++) {
            for (int i = 0; i < half; i++) {
                double angle = (firstPosition + t) * inverseFrequencies[i];
                cos[t * headDim + i] = cos[t * headDim + i + half] = (float) Math.cos(angle);
                sin[t * headDim + i] = sin[t * headDim + i + half] = (float) Math.sin(angle);
            }
        }
        Shape shape = new Shape(1, 1, seq, headDim);
        return new Tables(GraphConstants.of(manager, cos, shape), GraphConstants.of(manager, sin, shape));
    }

    /** Rotates {@code x} {@code [batch, heads, seq, headDim]}: {@code x cos + rotate_half(x) sin}. */
    public NDArray apply(NDArray x, Tables tables) {
        int half = headDim / 2;
        NDArray rotated = x.get("..., {}:", half).neg().concat(x.get("..., :{}", half), -1);
        return x.mul(tables.cos()).add(rotated.mul(tables.sin()));
    }
}

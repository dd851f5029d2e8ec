package io.editstream.model;

import ai.djl.ndarray.NDArray;

import java.util.Map;

/**
 * Output of one forward pass.
 *
 * @param logits    {@code [batch, seq, vocab]} float32, or {@code [pairs, vocab]} when the probe named logit positions
 * @param mlpKeys   captured MLP keys by layer, each {@code [batch, seq, mlpDim]}
 * @param residuals captured residual streams (after the block) by layer, each {@code [batch, seq, dim]}
 */
public record ForwardResult(NDArray logits, Map<Integer, NDArray> mlpKeys, Map<Integer, NDArray> residuals) {

    public ForwardResult {
        mlpKeys = Map.copyOf(mlpKeys);
        residuals = Map.copyOf(residuals);
    }

    /** The MLP key captured at {@code layer}: {@code [batch, seq, mlpDim]}. */
    public NDArray mlpKey(int layer) {
        NDArray key = mlpKeys.get(layer);
        if (key == null) {
            throw new IllegalArgumentException("the probe did not capture the MLP key of layer " + layer + " (captured: " + mlpKeys.keySet() + ")");
        }
        return key;
    }

    /** The residual stream after block {@code layer}: {@code [batch, seq, dim]}. */
    public NDArray residual(int layer) {
        NDArray residual = residuals.get(layer);
        if (residual == null) {
            throw new IllegalArgumentException("the probe did not capture the residual of layer " + layer + " (captured: " + residuals.keySet() + ")");
        }
        return residual;
    }
}

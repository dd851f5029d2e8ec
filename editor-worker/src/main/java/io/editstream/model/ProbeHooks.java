package io.editstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

import java.util.HashMap;
import java.util.Map;

/**
 * Applies a {@link Probe} inside one forward pass: the family's forward calls the three hooks at the points the probe
 * names, and {@link #result} hands the captures over to the caller's scope.
 */
public final class ProbeHooks {

    private final NDManager pass;
    private final Probe probe;
    private final int rows;
    private final int seq;
    private final Map<Integer, NDArray> mlpKeys = new HashMap<>();
    private final Map<Integer, NDArray> residuals = new HashMap<>();

    /**
     * @param pass  manager of the pass's intermediate arrays
     * @param probe what to capture and inject
     * @param batch the batch being run (positions are checked against it)
     */
    public ProbeHooks(NDManager pass, Probe probe, ModelConfig config, TokenBatch batch) {
        probe.validate(config, batch);
        this.pass = pass;
        this.probe = probe;
        this.rows = batch.size();
        this.seq = batch.maxLength();
    }

    /** The first block the pass runs: 0, or the block above the probe's resume point. */
    public int firstBlock() {
        return probe.firstBlock();
    }

    /**
     * The residual stream the pass resumes from, after block {@link Probe.Resume#layer()}, with that layer's deltas
     * and captures applied as {@link #residual} would.
     */
    public NDArray resumedResidual() {
        Probe.Resume resume = probe.resume().orElseThrow(() -> new IllegalStateException("the probe names no resume point"));
        // a copy in the pass, so nothing this pass derives from it lands in the caller's longer-lived manager
        NDArray start = resume.residual().duplicate();
        start.attach(pass);
        return residual(resume.layer(), start);
    }

    /** The final residual stream {@code [batch, seq, dim]} at the positions the logits are wanted: all, or the probe's pairs as {@code [pairs, dim]}. */
    public NDArray logitInput(NDArray hidden) {
        if (probe.logitPositions().isEmpty()) {
            return hidden;
        }
        Probe.LogitPositions at = probe.logitPositions().get();
        NDArray rowIndex = GraphConstants.indices(pass, at.rows());
        NDArray positionIndex = GraphConstants.indices(pass, at.positions());
        return hidden.get(new NDIndex("{}, {}", rowIndex, positionIndex));
    }

    /** Called with the MLP key {@code [batch, seq, mlpDim]} of a layer; returns it unchanged. */
    public NDArray mlpKey(int layer, NDArray key) {
        if (probe.capturesMlpKey(layer)) {
            mlpKeys.put(layer, key);
        }
        return key;
    }

    /** Called with the MLP output {@code [batch, seq, dim]} of a layer; returns it with any override applied. */
    public NDArray mlpOutput(int layer, NDArray output) {
        for (Probe.MlpOverride override : probe.mlpOverrides()) {
            if (override.layer() == layer) {
                NDArray at = positionMask(override.positions());
                output = output.mul(at.neg().add(1f)).add(at.mul(perRow(override.values())));
            }
        }
        return output;
    }

    /** Called with the residual stream after a block; returns it with any delta added, and captures it. */
    public NDArray residual(int layer, NDArray hidden) {
        for (Probe.ResidualDelta delta : probe.residualDeltas()) {
            if (delta.layer() == layer) {
                hidden = hidden.add(positionMask(delta.positions()).mul(perRow(delta.delta())));
            }
        }
        if (probe.capturesResidual(layer)) {
            residuals.put(layer, hidden);
        }
        return hidden;
    }

    /** Moves the logits and the captures to {@code scope}, so they outlive the pass. */
    public ForwardResult result(NDManager scope, NDArray logits) {
        logits.attach(scope);
        mlpKeys.values().forEach(a -> a.attach(scope));
        residuals.values().forEach(a -> a.attach(scope));
        return new ForwardResult(logits, mlpKeys, residuals);
    }

    /** {@code [batch, seq, 1]}: 1 at each row's position, 0 elsewhere (a row with a negative position is all 0). */
    private NDArray positionMask(int[] positions) {
        float[] mask = new float[rows * seq];
        for (int row = 0; row < rows; row++) {
            if (positions[row] >= 0) {
                mask[row * seq + positions[row]] = 1f;
            }
        }
        return GraphConstants.of(pass, mask, new Shape(rows, seq, 1));
    }

    /** A {@code [dim]} or {@code [batch, dim]} vector shaped to broadcast over {@code [batch, seq, dim]}. */
    private NDArray perRow(NDArray vector) {
        Shape shape = vector.getShape();
        NDArray shaped;
        if (shape.dimension() == 1) {
            shaped = vector.reshape(1, 1, shape.get(0));
        } else if (shape.dimension() == 2 && shape.get(0) == rows) {
            shaped = vector.reshape(rows, 1, shape.get(1));
        } else {
            throw new IllegalArgumentException("a probe vector must be [dim] or [" + rows + ", dim], got " + shape);
        }
        // the reshaped view would otherwise live in the caller's manager, which may run many passes
        shaped.attach(pass);
        return shaped;
    }
}

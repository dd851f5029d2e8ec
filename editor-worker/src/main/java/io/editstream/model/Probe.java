package io.editstream.model;

import ai.djl.ndarray.NDArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What one forward pass captures and injects on the way, so an editor needs a single pass.
 *
 * <ul>
 *   <li>MLP keys: the input of the MLP output projection ({@code silu(gate x) * up x} for Llama,
 *       {@code gelu(c_fc x)} for GPT-2), captured as {@code [batch, seq, mlpDim]};</li>
 *   <li>residuals: the residual stream after the whole block {@code l}, captured as {@code [batch, seq, dim]},
 *       after any delta added to that layer;</li>
 *   <li>residual deltas: a vector added to the residual stream after block {@code l} at one position per row;
 *       it may require a gradient (target optimisation differentiates through it);</li>
 *   <li>MLP overrides: the MLP output of block {@code l} replaced at one position per row.</li>
 * </ul>
 * A probe is immutable: each {@code with}-style method returns a new probe.
 */
public record Probe(int[] mlpKeyLayers, int[] residualLayers, List<ResidualDelta> residualDeltas, List<MlpOverride> mlpOverrides) {

    /**
     * Adds {@code delta} to the residual stream after block {@code layer}.
     *
     * @param delta     {@code [dim]} (the same vector for every row) or {@code [batch, dim]}
     * @param positions the position per row where it is added; a negative position leaves that row alone
     */
    public record ResidualDelta(int layer, NDArray delta, int[] positions) {
        public ResidualDelta {
            positions = positions.clone();
        }

        @Override
        public int[] positions() {
            return positions.clone();
        }
    }

    /**
     * Replaces the MLP output of block {@code layer}.
     *
     * @param values    {@code [dim]} or {@code [batch, dim]}
     * @param positions the position per row where it is replaced; a negative position leaves that row alone
     */
    public record MlpOverride(int layer, NDArray values, int[] positions) {
        public MlpOverride {
            positions = positions.clone();
        }

        @Override
        public int[] positions() {
            return positions.clone();
        }
    }

    public Probe {
        mlpKeyLayers = mlpKeyLayers.clone();
        residualLayers = residualLayers.clone();
        residualDeltas = List.copyOf(residualDeltas);
        mlpOverrides = List.copyOf(mlpOverrides);
    }

    /** Layers whose MLP key is captured (a copy). */
    @Override
    public int[] mlpKeyLayers() {
        return mlpKeyLayers.clone();
    }

    /** Layers whose residual stream is captured (a copy). */
    @Override
    public int[] residualLayers() {
        return residualLayers.clone();
    }

    /** A plain forward pass. */
    public static Probe none() {
        return new Probe(new int[0], new int[0], List.of(), List.of());
    }

    /** Also captures the MLP keys of these layers. */
    public Probe captureMlpKeys(int... layers) {
        return new Probe(union(mlpKeyLayers, layers), residualLayers, residualDeltas, mlpOverrides);
    }

    /** Also captures the residual stream after these layers. */
    public Probe captureResidual(int... layers) {
        return new Probe(mlpKeyLayers, union(residualLayers, layers), residualDeltas, mlpOverrides);
    }

    /** Also adds {@code delta} to the residual stream after block {@code layer} at {@code positions[row]}. */
    public Probe addToResidual(int layer, NDArray delta, int[] positions) {
        List<ResidualDelta> deltas = new ArrayList<>(residualDeltas);
        deltas.add(new ResidualDelta(layer, delta, positions));
        return new Probe(mlpKeyLayers, residualLayers, deltas, mlpOverrides);
    }

    /** Also replaces the MLP output of block {@code layer} by {@code values} at {@code positions[row]}. */
    public Probe replaceMlpOutput(int layer, NDArray values, int[] positions) {
        List<MlpOverride> overrides = new ArrayList<>(mlpOverrides);
        overrides.add(new MlpOverride(layer, values, positions));
        return new Probe(mlpKeyLayers, residualLayers, residualDeltas, overrides);
    }

    /** Whether the MLP key of this layer is captured. */
    public boolean capturesMlpKey(int layer) {
        return Arrays.stream(mlpKeyLayers).anyMatch(l -> l == layer);
    }

    /** Whether the residual stream after this layer is captured. */
    public boolean capturesResidual(int layer) {
        return Arrays.stream(residualLayers).anyMatch(l -> l == layer);
    }

    /** Checks every layer index against the model and every position list against the batch. */
    public void validate(ModelConfig config, TokenBatch batch) {
        for (int layer : mlpKeyLayers) {
            checkLayer(config, layer, "MLP key capture");
        }
        for (int layer : residualLayers) {
            checkLayer(config, layer, "residual capture");
        }
        for (ResidualDelta delta : residualDeltas) {
            checkLayer(config, delta.layer(), "residual delta");
            checkPositions(batch, delta.positions(), "residual delta");
        }
        for (MlpOverride override : mlpOverrides) {
            checkLayer(config, override.layer(), "MLP override");
            checkPositions(batch, override.positions(), "MLP override");
        }
    }

    private static void checkLayer(ModelConfig config, int layer, String what) {
        if (layer < 0 || layer >= config.layers()) {
            throw new IllegalArgumentException(what + " at layer " + layer + ", but the model has layers 0.." + (config.layers() - 1));
        }
    }

    private static void checkPositions(TokenBatch batch, int[] positions, String what) {
        if (positions.length != batch.size()) {
            throw new IllegalArgumentException(what + " has " + positions.length + " positions for a batch of " + batch.size() + " rows");
        }
        for (int row = 0; row < positions.length; row++) {
            if (positions[row] >= batch.length(row)) {
                throw new IllegalArgumentException(what + " at position " + positions[row] + " of row " + row + ", which has only " + batch.length(row) + " tokens");
            }
        }
    }

    private static int[] union(int[] a, int[] b) {
        return Arrays.stream(b).filter(l -> Arrays.stream(a).noneMatch(x -> x == l))
                .collect(() -> new ArrayList<Integer>(Arrays.stream(a).boxed().toList()), List::add, List::addAll)
                .stream().mapToInt(Integer::intValue).toArray();
    }
}

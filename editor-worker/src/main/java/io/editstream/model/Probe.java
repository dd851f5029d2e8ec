package io.editstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

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
 *   <li>MLP overrides: the MLP output of block {@code l} replaced at one position per row;</li>
 *   <li>a resume point: the pass starts from a residual stream captured after block {@code l} of an earlier pass over
 *       the same batch and runs only the blocks above it (an optimisation that changes nothing below {@code l}
 *       need not rerun those blocks);</li>
 *   <li>logit positions: logits only at the (row, position) pairs named, instead of at every position (the LM
 *       head is the widest matrix of a small model, and a loss often reads a handful of positions).</li>
 * </ul>
 * A probe is immutable: each {@code with}-style method returns a new probe.
 */
public record Probe(int[] mlpKeyLayers, int[] residualLayers, List<ResidualDelta> residualDeltas, List<MlpOverride> mlpOverrides,
                    Optional<Resume> resume, Optional<LogitPositions> logitPositions) {

    /**
     * Start after block {@code layer} from {@code residual}, {@code [batch, seq, dim]}: the residual stream a pass
     * over the same batch captured there (before any delta the resuming probe adds at that layer).
     */
    public record Resume(int layer, NDArray residual) {
    }

    /** Logits only at {@code positions[i]} of row {@code rows[i]}: the pass returns them {@code [pairs, vocab]}. */
    public record LogitPositions(int[] rows, int[] positions) {
        public LogitPositions {
            if (rows.length != positions.length || rows.length == 0) {
                throw new IllegalArgumentException("logit positions need one row per position and at least one pair, got "
                        + rows.length + " rows and " + positions.length + " positions");
            }
            rows = rows.clone();
            positions = positions.clone();
        }

        @Override
        public int[] rows() {
            return rows.clone();
        }

        @Override
        public int[] positions() {
            return positions.clone();
        }
    }

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
        Objects.requireNonNull(resume, "resume");
        Objects.requireNonNull(logitPositions, "logitPositions");
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
        return new Probe(new int[0], new int[0], List.of(), List.of(), Optional.empty(), Optional.empty());
    }

    /** Also captures the MLP keys of these layers. */
    public Probe captureMlpKeys(int... layers) {
        return new Probe(union(mlpKeyLayers, layers), residualLayers, residualDeltas, mlpOverrides, resume, logitPositions);
    }

    /** Also captures the residual stream after these layers. */
    public Probe captureResidual(int... layers) {
        return new Probe(mlpKeyLayers, union(residualLayers, layers), residualDeltas, mlpOverrides, resume, logitPositions);
    }

    /** Also adds {@code delta} to the residual stream after block {@code layer} at {@code positions[row]}. */
    public Probe addToResidual(int layer, NDArray delta, int[] positions) {
        List<ResidualDelta> deltas = new ArrayList<>(residualDeltas);
        deltas.add(new ResidualDelta(layer, delta, positions));
        return new Probe(mlpKeyLayers, residualLayers, deltas, mlpOverrides, resume, logitPositions);
    }

    /** Also replaces the MLP output of block {@code layer} by {@code values} at {@code positions[row]}. */
    public Probe replaceMlpOutput(int layer, NDArray values, int[] positions) {
        List<MlpOverride> overrides = new ArrayList<>(mlpOverrides);
        overrides.add(new MlpOverride(layer, values, positions));
        return new Probe(mlpKeyLayers, residualLayers, residualDeltas, overrides, resume, logitPositions);
    }

    /** Also starts the pass after block {@code layer} from {@code residual} (see {@link Resume}). */
    public Probe resumeAfter(int layer, NDArray residual) {
        return new Probe(mlpKeyLayers, residualLayers, residualDeltas, mlpOverrides, Optional.of(new Resume(layer, residual)), logitPositions);
    }

    /** Also computes the logits only at {@code positions[i]} of row {@code rows[i]} (see {@link LogitPositions}). */
    public Probe logitsAt(int[] rows, int[] positions) {
        return new Probe(mlpKeyLayers, residualLayers, residualDeltas, mlpOverrides, resume, Optional.of(new LogitPositions(rows, positions)));
    }

    /** The first block the pass runs: 0, or the one above the resume point. */
    public int firstBlock() {
        return resume.map(r -> r.layer() + 1).orElse(0);
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
            checkMlp(config, layer, "MLP key capture");
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
            checkMlp(config, override.layer(), "MLP override");
            checkPositions(batch, override.positions(), "MLP override");
        }
        if (resume.isPresent()) {
            Resume from = resume.get();
            checkLayer(config, from.layer(), "resume");
            Shape expected = new Shape(batch.size(), batch.maxLength(), config.dim());
            if (!from.residual().getShape().equals(expected)) {
                throw new IllegalArgumentException("resuming from a residual " + from.residual().getShape() + " for a batch that needs " + expected);
            }
            // the resumed residual is the one after block R: deltas and captures there still apply, MLPs up to R do not run
            for (int layer : mlpKeyLayers) {
                requireAbove(layer, from.layer() + 1, "MLP key capture", from.layer());
            }
            for (int layer : residualLayers) {
                requireAbove(layer, from.layer(), "residual capture", from.layer());
            }
            for (ResidualDelta delta : residualDeltas) {
                requireAbove(delta.layer(), from.layer(), "residual delta", from.layer());
            }
            for (MlpOverride override : mlpOverrides) {
                requireAbove(override.layer(), from.layer() + 1, "MLP override", from.layer());
            }
        }
        if (logitPositions.isPresent()) {
            int[] rows = logitPositions.get().rows;
            int[] positions = logitPositions.get().positions;
            for (int i = 0; i < rows.length; i++) {
                if (rows[i] < 0 || rows[i] >= batch.size() || positions[i] < 0 || positions[i] >= batch.length(rows[i])) {
                    throw new IllegalArgumentException("logits asked at position " + positions[i] + " of row " + rows[i] + ", outside the batch");
                }
            }
        }
    }

    private static void requireAbove(int layer, int lowest, String what, int resumedAfter) {
        if (layer < lowest) {
            throw new IllegalArgumentException(what + " at layer " + layer + ", but the pass resumes after block " + resumedAfter);
        }
    }

    private static void checkMlp(ModelConfig config, int layer, String what) {
        if (!config.hasMlp(layer)) {
            throw new IllegalArgumentException(what + " at layer " + layer + ", which has no MLP");
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

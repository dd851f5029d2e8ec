package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.editstream.model.LanguageModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MEMIT family of sequential editors: targets z after the last edit layer, then, layer by layer in
 * ascending order, keys K, residuals R = (Z − H_L) / (layers remaining), a solved update ΔW, and
 * Cp += K Kᵀ. NSE computes targets on the original weights (unless its settings say otherwise, for ablations)
 * and re-edits requests still short of their target; AlphaEdit projects onto C0's null space; PRUNE optionally
 * restrains the accumulated change.
 */
final class SequentialEditor implements Editor {

    private static final Logger log = LoggerFactory.getLogger(SequentialEditor.class);

    enum Algorithm { MEMIT, NSE, ALPHAEDIT }

    private final String name;
    private final Algorithm algorithm;
    private final LanguageModel model;
    private final EditHyperparameters hyperparameters;
    private final NDManager state;
    private final UpdateRule rule;
    private final Map<Integer, FloatMatrix> originalWeights = new LinkedHashMap<>();
    private final PruneRestraint restraint;
    private final List<String> contextPrefixes;
    /** NSE's targets computed ahead by {@link #prepare}, taken (and removed) when their request is applied. */
    private final Map<EditRequest, EditTargets.Target> prepared = new HashMap<>();
    /** A target that reached an NLL of target_new below this is one the edit can write. */
    private static final double REACHED_NLL = 1.0;
    private int targetsFromCurrent;
    private int targetsChosen;

    SequentialEditor(String name, Algorithm algorithm, boolean prune, LanguageModel model,
                     EditHyperparameters hyperparameters, Map<Integer, FloatMatrix> c0, NDManager parent, long seed) {
        this.name = name;
        this.algorithm = algorithm;
        this.model = model;
        this.hyperparameters = hyperparameters;
        this.state = parent.newSubManager();
        try {
            int mlpDim = model.config().mlpDim();
            Map<Integer, RunningInverse> kept = new LinkedHashMap<>();
            for (int layer : hyperparameters.layers()) {
                if (algorithm == Algorithm.NSE || prune) {
                    // θ0's projections: NSE's targets come from them, PRUNE measures the perturbation against them.
                    try (NDManager scope = state.newSubManager()) {
                        originalWeights.put(layer, FloatMatrix.of(model.mlpOutputWeight(scope, layer)));
                    }
                }
                try (NDManager scope = state.newSubManager()) {
                    // Cp = 0 before the first edit: the system is λ C0 (MEMIT, NSE) or μ I (AlphaEdit)
                    NDArray system = switch (algorithm) {
                        case MEMIT -> c0.get(layer).toNDArray(scope).mul(hyperparameters.lambda());
                        case NSE -> c0.get(layer).toNDArray(scope).mul(hyperparameters.nse().lambda());
                        case ALPHAEDIT -> scope.eye(mlpDim).mul(hyperparameters.alphaEdit().ridge());
                    };
                    // only NSE's solve on a neuron subset smaller than the rest reads M itself
                    boolean subsets = algorithm == Algorithm.NSE && hyperparameters.nse().neuronFraction() < 1;
                    kept.put(layer, subsets ? RunningInverse.withSystem(system, state) : RunningInverse.of(system, state));
                }
            }
            this.rule = switch (algorithm) {
                case MEMIT -> new UpdateRule.Memit(kept);
                case NSE -> new UpdateRule.Nse(kept, hyperparameters.nse().neuronFraction());
                case ALPHAEDIT -> new UpdateRule.AlphaEdit(projectors(c0), kept);
            };
            this.restraint = prune ? new PruneRestraint(hyperparameters.prune().alpha()) : null;
            if (restraint != null) {
                originalWeights.forEach(restraint::registerOriginal);
            }
            this.contextPrefixes = ContextPrefixes.generate(state, model, hyperparameters.contextTemplates(), seed);
            log.info("{} editor on layers {} with {} context prefixes", name, hyperparameters.layers(), contextPrefixes.size());
        } catch (RuntimeException e) {
            state.close();
            throw e;
        }
    }

    private Map<Integer, NDArray> projectors(Map<Integer, FloatMatrix> c0) {
        Map<Integer, NDArray> projectors = new LinkedHashMap<>();
        EditHyperparameters.AlphaEdit settings = hyperparameters.alphaEdit();
        for (int layer : hyperparameters.layers()) {
            projectors.put(layer, NullSpaceProjector.compute(state, c0.get(layer), settings.nullSpaceThreshold(), settings.relativeThreshold()));
        }
        return projectors;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void prepare(List<EditRequest> upcoming) {
        if (!targetsFromOriginalWeights()) {
            return;
        }
        List<EditRequest> missing = upcoming.stream().distinct().filter(request -> !prepared.containsKey(request)).toList();
        if (!missing.isEmpty()) {
            List<EditTargets.Target> targets = targetsOnOriginalWeights(missing);
            for (int i = 0; i < missing.size(); i++) {
                prepared.put(missing.get(i), targets.get(i));
            }
        }
    }

    @Override
    public EditResult apply(List<EditRequest> batch) {
        if (batch.isEmpty()) {
            throw new IllegalArgumentException("an edit batch needs at least one request");
        }
        long started = System.nanoTime();
        List<EditTargets.Target> targets;
        if (targetsFromOriginalWeights()) {
            prepare(batch);
            targets = batch.stream().map(prepared::get).toList();
            batch.forEach(prepared::remove);
            if (hyperparameters.nse().targets() == EditHyperparameters.NseTargets.ORIGINAL_SHIFTED) {
                targets = shiftedToCurrentWeights(batch, targets);
            } else if (hyperparameters.nse().targets() == EditHyperparameters.NseTargets.SHORTER_RESIDUAL) {
                targets = shorterResiduals(batch, targets);
            }
        } else {
            targets = targets(batch);
        }
        long targetsDone = System.nanoTime();

        int[] layers = hyperparameters.layerArray();
        Map<Integer, List<LowRankDelta>> changes = new LinkedHashMap<>();
        int maxPasses = algorithm == Algorithm.NSE ? hyperparameters.nse().maxPasses() : 1;
        List<Integer> active = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            active.add(i);
        }
        int passes = 0;
        int reEdited = 0;
        while (!active.isEmpty() && passes < maxPasses) {
            passes++;
            if (passes > 1) {
                reEdited += active.size();
            }
            List<EditRequest> requests = active.stream().map(batch::get).toList();
            List<EditTargets.Target> activeTargets = active.stream().map(targets::get).toList();
            for (int i = 0; i < layers.length; i++) {
                LowRankDelta delta = updateLayer(layers[i], layers.length - i, requests, activeTargets, passes == 1);
                changes.computeIfAbsent(layers[i], l -> new ArrayList<>()).add(delta);
            }
            if (passes < maxPasses) {
                active = stillShort(batch, targets, active);
            }
        }
        long updateDone = System.nanoTime();

        List<LowRankDelta> deltas = new ArrayList<>();
        int restrained = 0;
        for (Map.Entry<Integer, List<LowRankDelta>> entry : changes.entrySet()) {
            LowRankDelta change = LowRankDelta.compose(entry.getValue());
            if (restraint != null) {
                LowRankDelta correction = restraint.afterEdit(change);
                if (correction != null) {
                    apply(correction);
                    restrained += correction.rank();
                    change = LowRankDelta.compose(List.of(change, correction));
                }
            }
            deltas.add(change);
        }
        long done = System.nanoTime();
        EditStats stats = new EditStats(batch.size(), passes, reEdited,
                targets.stream().mapToDouble(EditTargets.Target::initialNll).average().orElse(Double.NaN),
                targets.stream().mapToDouble(EditTargets.Target::finalNll).average().orElse(Double.NaN),
                restrained, (targetsDone - started) / 1e9, (updateDone - targetsDone) / 1e9, (done - updateDone) / 1e9);
        log.debug("{}: {}", name, stats);
        return new EditResult(deltas, stats);
    }

    /**
     * One layer's update: the keys and the remaining residual are measured on the current weights (earlier
     * layers of this batch already updated), so each layer takes its share of what is still missing.
     */
    private LowRankDelta updateLayer(int layer, int layersRemaining, List<EditRequest> requests,
                                     List<EditTargets.Target> targets, boolean firstPass) {
        try (NDManager scope = state.newSubManager()) {
            NDArray keys = EditKeys.compute(scope, model, requests, contextPrefixes, layer);
            NDArray reached = EditKeys.residualAtSubject(scope, model, requests, hyperparameters.targetLayer());
            NDArray residuals = targetMatrix(scope, targets).sub(reached).div(layersRemaining);
            LowRankDelta delta = rule.solve(layer, residuals, keys);
            apply(delta);
            if (firstPass) {
                // A re-edit of the same requests must not count their keys twice as preserved knowledge.
                rule.remember(layer, keys);
            }
            return delta;
        }
    }

    private void apply(LowRankDelta delta) {
        try (NDManager scope = state.newSubManager()) {
            model.addToMlpOutputWeight(delta.layer(), delta.a().toNDArray(scope), delta.b().toNDArray(scope));
        }
    }

    /** Z {@code [dim, n]}. */
    private static NDArray targetMatrix(NDManager scope, List<EditTargets.Target> targets) {
        int dim = targets.get(0).z().length;
        float[] values = new float[dim * targets.size()];
        for (int j = 0; j < targets.size(); j++) {
            float[] z = targets.get(j).z();
            for (int i = 0; i < dim; i++) {
                values[i * targets.size() + j] = z[i];
            }
        }
        return scope.create(values, new Shape(dim, targets.size()));
    }

    private List<EditTargets.Target> targets(List<EditRequest> batch) {
        if (algorithm == Algorithm.NSE && hyperparameters.nse().targets() == EditHyperparameters.NseTargets.CURRENT_ANCHORED) {
            return EditTargets.computeAnchored(state, model, batch, contextPrefixes, hyperparameters.targetLayer(), hyperparameters.target(),
                    (scope, tokens, probe) -> onOriginalWeights(() -> model.forward(scope, tokens, probe)));
        }
        return EditTargets.compute(state, model, batch, contextPrefixes, hyperparameters.targetLayer(), hyperparameters.target());
    }

    /** NSE's targets come from θ0, never from drifted weights. */
    private List<EditTargets.Target> targetsOnOriginalWeights(List<EditRequest> batch) {
        return onOriginalWeights(() -> targets(batch));
    }

    /**
     * Only the edit layers' MLP output projections ever change, so θ0 is restored by swapping them in and the
     * current ones back afterwards.
     */
    private <T> T onOriginalWeights(Supplier<T> computation) {
        Map<Integer, FloatMatrix> current = new LinkedHashMap<>();
        try (NDManager scope = state.newSubManager()) {
            for (int layer : hyperparameters.layers()) {
                current.put(layer, FloatMatrix.of(model.mlpOutputWeight(scope, layer)));
                model.setMlpOutputWeight(layer, originalWeights.get(layer).toNDArray(scope));
            }
            try {
                return computation.get();
            } finally {
                for (int layer : hyperparameters.layers()) {
                    model.setMlpOutputWeight(layer, current.get(layer).toNDArray(scope));
                }
            }
        }
    }

    private boolean targetsFromOriginalWeights() {
        return algorithm == Algorithm.NSE && hyperparameters.nse().targets().optimisedOnOriginalWeights();
    }

    /** Each target's δ (optimised on θ0) moved onto h_L of the current weights. */
    private List<EditTargets.Target> shiftedToCurrentWeights(List<EditRequest> batch, List<EditTargets.Target> targets) {
        float[][] reached = currentResidualsAtSubject(batch);
        List<EditTargets.Target> shifted = new ArrayList<>();
        for (int j = 0; j < batch.size(); j++) {
            shifted.add(targets.get(j).shiftedTo(reached[j]));
        }
        return shifted;
    }

    /** h_L at each request's subject on the current weights, in one read of the [n, dim] block, not one per request. */
    private float[][] currentResidualsAtSubject(List<EditRequest> batch) {
        try (NDManager scope = state.newSubManager()) {
            float[] reached = EditKeys.residualAtSubject(scope, model, batch, hyperparameters.targetLayer()).transpose().toFloatArray();
            int dim = reached.length / batch.size();
            float[][] rows = new float[batch.size()][];
            for (int j = 0; j < batch.size(); j++) {
                rows[j] = Arrays.copyOfRange(reached, j * dim, (j + 1) * dim);
            }
            return rows;
        }
    }

    /** Per request, θ0's target or the current weights' one, whichever asks the shorter write of those that reach. */
    private List<EditTargets.Target> shorterResiduals(List<EditRequest> batch, List<EditTargets.Target> original) {
        List<EditTargets.Target> current = targets(batch);
        float[][] reached = currentResidualsAtSubject(batch);
        List<EditTargets.Target> chosen = new ArrayList<>();
        for (int j = 0; j < batch.size(); j++) {
            EditTargets.Target a = original.get(j);
            EditTargets.Target b = current.get(j);
            double fromOriginal = distance(a.z(), reached[j]);
            double fromCurrent = distance(b.z(), reached[j]);
            boolean aReaches = a.finalNll() < REACHED_NLL;
            boolean bReaches = b.finalNll() < REACHED_NLL;
            boolean takeCurrent = aReaches == bReaches
                    ? (aReaches ? fromCurrent < fromOriginal : b.finalNll() < a.finalNll())
                    : bReaches;
            chosen.add(takeCurrent ? b : a);
            targetsFromCurrent += takeCurrent ? 1 : 0;
            log.debug("{} '{}': residual {} (θ0, NLL {}) / {} (current, NLL {}) -> {}", name, batch.get(j).filledPrompt(),
                    fromOriginal, a.finalNll(), fromCurrent, b.finalNll(), takeCurrent ? "current" : "θ0");
        }
        targetsChosen += batch.size();
        if (targetsChosen / 100 != (targetsChosen - batch.size()) / 100) {
            log.info("{}: {} of {} targets so far from the current weights", name, targetsFromCurrent, targetsChosen);
        }
        return chosen;
    }

    private static double distance(float[] a, float[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            double d = a[i] - b[i];
            sum += d * d;
        }
        return Math.sqrt(sum);
    }

    /** NSE: the requests whose residual ‖z − h_L‖ is still within the bounds worth another pass. */
    private List<Integer> stillShort(List<EditRequest> batch, List<EditTargets.Target> targets, List<Integer> active) {
        EditHyperparameters.Nse settings = hyperparameters.nse();
        List<Integer> again = new ArrayList<>();
        try (NDManager scope = state.newSubManager()) {
            List<EditRequest> requests = active.stream().map(batch::get).toList();
            NDArray reached = EditKeys.residualAtSubject(scope, model, requests, hyperparameters.targetLayer());
            NDArray gap = targetMatrix(scope, active.stream().map(targets::get).toList()).sub(reached).norm(new int[] {0});
            float[] norms = gap.toFloatArray();
            for (int j = 0; j < active.size(); j++) {
                if (norms[j] >= settings.residualLower() && norms[j] <= settings.residualUpper()) {
                    again.add(active.get(j));
                }
            }
        }
        return again;
    }

    @Override
    public void close() {
        state.close();
    }
}

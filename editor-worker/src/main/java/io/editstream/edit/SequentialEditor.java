package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.editstream.model.LanguageModel;
import io.editstream.model.TextTokenizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
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
    /**
     * With PRUNE, every this many batches a batch's state carries the restraint's totals, so a restore replays at most
     * this many changes through the restraint whatever the chain's length.
     */
    static final int PRUNE_TOTALS_EVERY = 32;
    private final int pruneTotalsEvery;
    /** Batches applied or restored so far. */
    private int appliedBatches;
    private final List<String> contextPrefixes;
    /**
     * NSE's targets computed ahead by {@link #prepare}, taken (and removed) when their request is applied. They come
     * from θ0 alone, so {@link #restore} needs none of them; what they do depend on is which requests were prepared
     * together (see {@link Editor#prepare}).
     */
    private final Map<EditRequest, EditTargets.Target> prepared = new HashMap<>();
    /** Time the current batch spent computing keys and residuals (forward passes), part of its update time. */
    private long keyNanos;
    /** Whether a batch was applied or restored: {@link #restore} continues an editor only from its creation. */
    private boolean used;

    SequentialEditor(String name, Algorithm algorithm, boolean prune, LanguageModel model, EditHyperparameters hyperparameters,
                     EditorSetup setup, NDManager parent, long seed, int pruneTotalsEvery) {
        if (pruneTotalsEvery < 1) {
            throw new IllegalArgumentException("PRUNE totals every batch at most, got every " + pruneTotalsEvery);
        }
        this.pruneTotalsEvery = pruneTotalsEvery;
        this.name = name;
        this.algorithm = algorithm;
        this.model = model;
        this.hyperparameters = hyperparameters;
        setup.checkFits(algorithm, hyperparameters.layers(), model.config().mlpDim());
        this.state = parent.newSubManager();
        try {
            Map<Integer, RunningInverse> kept = new LinkedHashMap<>();
            Map<Integer, NDArray> projectors = new LinkedHashMap<>();
            for (int layer : hyperparameters.layers()) {
                if (algorithm == Algorithm.NSE || prune) {
                    // θ0's projections: NSE's targets come from them, PRUNE measures the perturbation against them.
                    try (NDManager scope = state.newSubManager()) {
                        originalWeights.put(layer, FloatMatrix.of(model.mlpOutputWeight(scope, layer)));
                    }
                }
                // only NSE's solve on a neuron subset smaller than the rest reads M itself, λ C0 before the first edit
                boolean subsets = algorithm == Algorithm.NSE && hyperparameters.nse().neuronFraction() < 1;
                EditorSetup.Layer matrices = setup.read(layer, algorithm, subsets, state);
                kept.put(layer, RunningInverse.fromInverse(matrices.inverse(), matrices.system(), state));
                if (algorithm == Algorithm.ALPHAEDIT) {
                    projectors.put(layer, matrices.projector());
                }
            }
            this.rule = switch (algorithm) {
                case MEMIT -> new UpdateRule.Memit(kept);
                case NSE -> new UpdateRule.Nse(kept, hyperparameters.nse().neuronFraction());
                case ALPHAEDIT -> new UpdateRule.AlphaEdit(projectors, kept);
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

    /** The algorithm an editor name ({@code memit}, {@code nse} or {@code alphaedit}, optionally {@code +prune}) starts with. */
    static Algorithm algorithm(String name) {
        String normalized = name.strip().toLowerCase(Locale.ROOT);
        String base = normalized.endsWith("+prune") ? normalized.substring(0, normalized.length() - "+prune".length()) : normalized;
        return switch (base) {
            case "memit" -> Algorithm.MEMIT;
            case "nse" -> Algorithm.NSE;
            case "alphaedit" -> Algorithm.ALPHAEDIT;
            default -> throw new IllegalArgumentException(
                    "unknown editing algorithm '" + name + "': use memit, nse or alphaedit, optionally with +prune");
        };
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
    public boolean preparesTargetsFromBase() {
        return targetsFromOriginalWeights();
    }

    @Override
    public Optional<TargetPreparer> targetPreparer(LanguageModel base) {
        if (!preparesTargetsFromBase()) {
            return Optional.empty();
        }
        return Optional.of(new TargetPreparer(base, contextPrefixes, hyperparameters.targetLayer(), hyperparameters.target()));
    }

    @Override
    public void prepare(TargetPreparer.PreparedTargets targets) {
        targets.targets().forEach(prepared::putIfAbsent);
    }

    @Override
    public Optional<String> check(EditRequest request) {
        TextTokenizer tokenizer = model.tokenizer();
        int[] target;
        try {
            target = PromptTokens.target(tokenizer, request.filledPrompt(), request.targetNew());
        } catch (IllegalArgumentException e) {
            return Optional.of(e.getMessage());
        }
        int longest = 0;
        for (String prefix : contextPrefixes) {
            // the target optimisation reads the prompt behind each prefix, then the target but its last token
            longest = Math.max(longest, PromptTokens.prompt(tokenizer, prefix + request.filledPrompt()).length + target.length - 1);
        }
        if (longest > model.config().maxSeqLen()) {
            return Optional.of("the prompt and its target take " + longest + " tokens behind the longest context prefix, more than the "
                    + model.config().maxSeqLen() + " the model reads");
        }
        for (String prefix : contextPrefixes) {
            if (!PromptTokens.locatesSubject(tokenizer, prefix + request.filledPrompt(), prefix + request.throughSubject())) {
                return Optional.of("the subject '" + request.subject() + "' ends inside a token of '" + prefix + request.filledPrompt()
                        + "': no token of the prompt is its last one, where its key is read");
            }
        }
        if (!PromptTokens.locatesSubject(tokenizer, EditTargets.subjectPrompt(request), request.subject())) {
            return Optional.of("the subject '" + request.subject() + "' ends inside a token of '" + EditTargets.subjectPrompt(request)
                    + "', the prompt that keeps what the subject is");
        }
        return Optional.empty();
    }

    @Override
    public EditResult apply(List<EditRequest> batch) {
        if (batch.isEmpty()) {
            throw new IllegalArgumentException("an edit batch needs at least one request");
        }
        used = true;
        for (int i = 0; i < batch.size(); i++) {
            int index = i;
            check(batch.get(i)).ifPresent(reason -> {
                throw new EditRejectedException(index, reason);
            });
        }
        long started = System.nanoTime();
        List<EditTargets.Target> targets = targetsOf(batch);
        for (int j = 0; j < batch.size(); j++) {
            if (!finite(targets.get(j).z())) {
                throw new EditRejectedException(j, "its target z is not finite: the target optimisation diverged (NLL "
                        + targets.get(j).initialNll() + " -> " + targets.get(j).finalNll() + ")");
            }
        }
        long targetsDone = System.nanoTime();

        // Layer by layer, each update is measured on the weights the ones before it left, so a rejection can come after
        // changes: the weights go back to a copy, the remembered keys are rolled back, PRUNE returns to its earlier state.
        Map<Integer, PruneRestraint.Totals> restrainedBefore = restraint == null ? Map.of() : restraint.totals();
        try (NDManager before = state.newSubManager()) {
            Map<Integer, NDArray> weightsBefore = new LinkedHashMap<>();
            for (int layer : hyperparameters.layers()) {
                weightsBefore.put(layer, model.mlpOutputWeight(before, layer));
            }
            try {
                EditResult result = update(batch, targets, started, targetsDone);
                rule.commit();
                appliedBatches++;
                return result;
            } catch (RuntimeException e) {
                weightsBefore.forEach(model::setMlpOutputWeight);
                rule.rollback();
                if (restraint != null) {
                    restraint.resetTo(restrainedBefore);
                }
                throw e;
            }
        }
    }

    /** The targets of a batch: NSE's from θ0 (prepared ahead or now), the others' from the current weights. */
    private List<EditTargets.Target> targetsOf(List<EditRequest> batch) {
        if (!targetsFromOriginalWeights()) {
            return targets(batch);
        }
        prepare(batch);
        List<EditTargets.Target> targets = batch.stream().map(prepared::get).toList();
        batch.forEach(prepared::remove);
        return targets;
    }

    /** The update passes, then PRUNE; the remembered keys stay uncommitted for the caller to commit or roll back. */
    private EditResult update(List<EditRequest> batch, List<EditTargets.Target> targets, long started, long targetsDone) {
        int[] layers = hyperparameters.layerArray();
        Map<Integer, List<LowRankDelta>> changes = new LinkedHashMap<>();
        SortedMap<Integer, List<FloatMatrix>> remembered = new TreeMap<>();
        int maxPasses = algorithm == Algorithm.NSE ? hyperparameters.nse().maxPasses() : 1;
        List<Integer> active = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            active.add(i);
        }
        int passes = 0;
        int reEdited = 0;
        keyNanos = 0;
        while (!active.isEmpty() && passes < maxPasses) {
            passes++;
            if (passes > 1) {
                reEdited += active.size();
            }
            for (int i = 0; i < layers.length; i++) {
                LowRankDelta delta = updateLayer(layers[i], layers.length - i, batch, active, targets, passes == 1 ? remembered : null);
                changes.computeIfAbsent(layers[i], l -> new ArrayList<>()).add(delta);
            }
            if (passes < maxPasses) {
                active = stillShort(batch, targets, active);
            }
        }
        long updateDone = System.nanoTime();

        List<LowRankDelta> deltas = new ArrayList<>();
        SortedMap<Integer, LowRankDelta> pruneChanges = new TreeMap<>();
        int restrained = 0;
        for (Map.Entry<Integer, List<LowRankDelta>> entry : changes.entrySet()) {
            LowRankDelta change = LowRankDelta.compose(entry.getValue());
            if (restraint != null) {
                pruneChanges.put(change.layer(), change);
                LowRankDelta correction = restraint.afterEdit(change);
                if (correction != null) {
                    apply(correction);
                    restrained += correction.rank();
                    change = LowRankDelta.compose(List.of(change, correction));
                }
            }
            deltas.add(change);
        }
        for (int layer : layers) {
            requireFiniteWeights(layer, changes.get(layer).get(0));
        }
        long done = System.nanoTime();
        EditStats stats = new EditStats(batch.size(), passes, reEdited,
                targets.stream().mapToDouble(EditTargets.Target::initialNll).average().orElse(Double.NaN),
                targets.stream().mapToDouble(EditTargets.Target::finalNll).average().orElse(Double.NaN),
                restrained, (targetsDone - started) / 1e9, keyNanos / 1e9, (updateDone - targetsDone - keyNanos) / 1e9,
                (done - updateDone) / 1e9);
        log.debug("{}: {}", name, stats);
        // appliedBatches counts this batch only once it goes through: the totals go with every pruneTotalsEvery-th
        SortedMap<Integer, PruneRestraint.Totals> totals = new TreeMap<>();
        if (restraint != null && (appliedBatches + 1) % pruneTotalsEvery == 0) {
            totals.putAll(restraint.totals());
        }
        return new EditResult(deltas, stats, new BatchState(remembered, pruneChanges, totals));
    }

    /**
     * One layer's update for the requests {@code active} (indices into {@code batch}): the keys and the remaining
     * residual are measured on the current weights (earlier layers of this batch already updated), so each layer takes
     * its share of what is still missing.
     *
     * @param remembered where the keys the rule remembers go, or null on a re-edit pass
     */
    private LowRankDelta updateLayer(int layer, int layersRemaining, List<EditRequest> batch, List<Integer> active,
                                     List<EditTargets.Target> targets, Map<Integer, List<FloatMatrix>> remembered) {
        List<EditRequest> requests = active.stream().map(batch::get).toList();
        try (NDManager scope = state.newSubManager()) {
            long keysStarted = System.nanoTime();
            NDArray keys = EditKeys.compute(scope, model, requests, contextPrefixes, layer);
            FloatMatrix keyValues = FloatMatrix.of(keys);
            requireFiniteColumns(keyValues, active, "its key at layer " + layer);
            NDArray reached = EditKeys.residualAtSubject(scope, model, requests, hyperparameters.targetLayer());
            keyNanos += System.nanoTime() - keysStarted;
            NDArray residuals = targetMatrix(scope, active.stream().map(targets::get).toList()).sub(reached).div(layersRemaining);
            LowRankDelta delta = rule.solve(layer, residuals, keys);
            requireFiniteColumns(delta.a(), active, "its update of layer " + layer);
            requireFiniteColumns(delta.b(), active, "its update of layer " + layer);
            apply(delta);
            if (remembered != null) {
                // A re-edit of the same requests must not count their keys twice as preserved knowledge.
                remember(layer, keyValues);
                remembered.computeIfAbsent(layer, l -> new ArrayList<>()).add(keyValues);
            }
            return delta;
        }
    }

    /**
     * Cp += K Kᵀ, from the heap copy a {@link BatchState} holds: an applied batch and its {@link #restore replay} hand
     * the rule the same array, so they run the same arithmetic.
     */
    private void remember(int layer, FloatMatrix keys) {
        try (NDManager scope = state.newSubManager()) {
            rule.remember(layer, keys.toNDArray(scope));
        }
    }

    /** Rejects the batch at the first column of {@code values} (one per request in {@code active}) holding a NaN or infinity. */
    private static void requireFiniteColumns(FloatMatrix values, List<Integer> active, String what) {
        for (int r = 0; r < values.rows(); r++) {
            for (int j = 0; j < values.cols(); j++) {
                if (!Float.isFinite(values.get(r, j))) {
                    throw new EditRejectedException(active.get(j), what + " is not finite");
                }
            }
        }
    }

    /**
     * Finite factors can still overflow float32 in the weights they are added to. The request named is the one whose
     * column of the layer's first update is largest, the likeliest cause.
     */
    private void requireFiniteWeights(int layer, LowRankDelta firstUpdate) {
        try (NDManager scope = state.newSubManager()) {
            NDArray weight = model.mlpOutputWeight(scope, layer);
            if (weight.isNaN().logicalOr(weight.isInfinite()).any().getBoolean()) {
                NDArray a = firstUpdate.a().toNDArray(scope);
                NDArray b = firstUpdate.b().toNDArray(scope);
                int largest = (int) a.norm(new int[] {0}).mul(b.norm(new int[] {0})).argMax().getLong();
                throw new EditRejectedException(largest, "the weights of layer " + layer + " are not finite after its update");
            }
        }
    }

    private static boolean finite(float[] values) {
        for (float value : values) {
            if (!Float.isFinite(value)) {
                return false;
            }
        }
        return true;
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
        return algorithm == Algorithm.NSE;
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
    public void restore(List<BatchState> history) {
        if (used) {
            throw new IllegalStateException(name + ": restore continues an editor from its creation, and this one has already "
                    + "applied or restored batches");
        }
        for (int i = 0; i < history.size(); i++) {
            validate(history.get(i), i);
        }
        used = true;
        int lastTotals = -1;
        for (int i = 0; i < history.size(); i++) {
            if (!history.get(i).pruneTotals().isEmpty()) {
                lastTotals = i;
            }
        }
        for (int i = 0; i < history.size(); i++) {
            BatchState batch = history.get(i);
            batch.keys().forEach((layer, blocks) -> blocks.forEach(block -> remember(layer, block)));
            rule.commit();
            if (restraint != null && i == lastTotals) {
                restraint.resetTo(batch.pruneTotals());
            } else if (restraint != null && i > lastTotals) {
                // the correction it returns is already in the published weights the caller loads
                batch.pruneChanges().values().forEach(restraint::afterEdit);
            }
        }
        appliedBatches = history.size();
        log.info("{}: restored from {} batches", name, history.size());
    }

    /** The state of another editor (other layers, another MLP width, PRUNE or not) would silently corrupt this one. */
    private void validate(BatchState batch, int index) {
        Set<Integer> layers = new TreeSet<>(hyperparameters.layers());
        String which = name + ": batch state " + index;
        if (!batch.keys().keySet().equals(layers)) {
            throw new IllegalArgumentException(which + " holds keys of layers " + batch.keys().keySet() + ", this editor edits " + layers);
        }
        Set<Integer> pruned = restraint == null ? Set.of() : layers;
        if (!batch.pruneChanges().keySet().equals(pruned)) {
            throw new IllegalArgumentException(which + " holds PRUNE changes of layers " + batch.pruneChanges().keySet()
                    + ", this editor expects them of " + pruned);
        }
        int dim = model.config().dim();
        int mlpDim = model.config().mlpDim();
        batch.keys().forEach((layer, blocks) -> blocks.forEach(block -> {
            if (block.rows() != mlpDim) {
                throw new IllegalArgumentException(which + ": keys of layer " + layer + " have " + block.rows() + " rows, the MLP has " + mlpDim);
            }
        }));
        if (!batch.pruneTotals().isEmpty() && !batch.pruneTotals().keySet().equals(pruned)) {
            throw new IllegalArgumentException(which + " holds PRUNE totals of layers " + batch.pruneTotals().keySet()
                    + ", this editor expects them of " + pruned);
        }
        batch.pruneChanges().values().forEach(change -> {
            if (change.a().rows() != dim || change.b().rows() != mlpDim) {
                throw new IllegalArgumentException(which + ": PRUNE change of layer " + change.layer() + " is " + change.a().rows() + "x"
                        + change.b().rows() + ", the weight " + dim + "x" + mlpDim);
            }
        });
    }

    @Override
    public void close() {
        state.close();
    }
}

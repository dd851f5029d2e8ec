package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Applies batches of edits to one model, in order. An editor is stateful (the keys of earlier edits,
 * PRUNE's accumulated perturbation), so it is created on the unedited model and then sees every batch, or, after a
 * restart, the states those batches left ({@link #restore}).
 */
public interface Editor extends AutoCloseable {

    /** The algorithm name it was created with, e.g. {@code nse+prune}. */
    String name();

    /**
     * Edits the model in place and returns what changed, as low-rank factors per layer, with what the batch added to
     * the editor's state (for {@link #restore}).
     *
     * @throws EditRejectedException when a request fails {@link #check}, or its target or an update comes out NaN or
     *                               infinite; the model and the editor are then as they were before the call
     */
    EditResult apply(List<EditRequest> batch);

    /**
     * Why this editor cannot apply {@code request} on its model, or empty when it can: the prompt behind the longest
     * context prefix plus the target is longer than the model's context, or the subject ends inside a token of the
     * prompt (no token of its own to read its key at). Tokenisation only; {@link #apply} checks every request first.
     */
    Optional<String> check(EditRequest request);

    /**
     * Brings a new editor to the state of one that applied {@code history}, the {@link EditResult#state}s of its
     * batches in the order they were applied, without their targets or updates: each batch's remembered keys go to the
     * update rule and its PRUNE changes to the restraint; the model's weights are not touched. In order:
     * <ol>
     *   <li>{@link #create} the editor on the BASE model θ0 with the same name, hyperparameters, C0 and seed: the
     *       context prefixes, NSE's θ0 and PRUNE's σmax(W0) are taken from the model at creation;</li>
     *   <li>{@code restore(history)}, before any {@link #apply} (refused after one, and a second time);</li>
     *   <li>load the published version's weights into the model (the edit layers' MLP output projections, bit for bit).</li>
     * </ol>
     * Every later {@link #apply} then gives the same deltas and weights, bit for bit, as the editor that applied the
     * history itself would have, provided NSE's targets are prepared in the same groups (see {@link #prepare}).
     *
     * @throws IllegalStateException    when the editor applied or restored batches before
     * @throws IllegalArgumentException when a state belongs to another editor (other layers, MLP width, PRUNE or not);
     *                                  nothing is restored then
     */
    void restore(List<BatchState> history);

    /**
     * Announces requests that {@link #apply} will see next, in order. An editor whose targets do not depend on the
     * edits before them (NSE: they come from θ0) computes them now, all together, which is several times cheaper than
     * one batch at a time; the others have nothing to do ahead. Targets computed together differ from targets computed
     * alone only by rounding, so a run that must be repeated bit for bit prepares the same requests in the same groups:
     * after a {@link #restore}, the whole group the next request was prepared in, the requests of it already applied
     * included (groups chosen by sequence number, not by what happened to be pending when the worker stopped).
     */
    default void prepare(List<EditRequest> upcoming) {
    }

    /**
     * A preparer that computes what {@link #prepare(List)} would, on {@code base} (a copy of the unedited model no one
     * else uses) and on another thread, so that targets are ready before the batches that need them: empty for editors
     * whose targets depend on the edits before them (MEMIT, AlphaEdit). Targets computed on a copy may round
     * differently from {@link #prepare(List)}'s, so a run that must be repeated bit for bit prepares every group the same
     * way: through a preparer whenever {@link #preparesTargetsFromBase} says so.
     */
    default Optional<TargetPreparer> targetPreparer(LanguageModel base) {
        return Optional.empty();
    }

    /** Whether {@link #targetPreparer} gives one. */
    default boolean preparesTargetsFromBase() {
        return false;
    }

    /** Takes the targets a {@link TargetPreparer} computed; requests prepared already keep theirs. */
    default void prepare(TargetPreparer.PreparedTargets targets) {
    }

    @Override
    void close();

    /**
     * What one batch changed and how it went.
     *
     * @param state what the batch added to the editor's state: store it with the version, the editor keeps none
     */
    record EditResult(List<LowRankDelta> deltas, EditStats stats, BatchState state) {
        public EditResult {
            deltas = List.copyOf(deltas);
        }
    }

    /**
     * @param requests               edits in the batch
     * @param passes                 update passes run (NSE re-edits up to its maximum)
     * @param reEdited               requests updated again in later passes
     * @param meanTargetNllBefore    mean NLL of target_new when target optimisation began
     * @param meanTargetNllAfter     mean NLL of target_new with z in place (what the update aims for)
     * @param restrainedDirections   singular directions PRUNE restrained, over all layers
     * @param targetSeconds          time spent optimising targets
     * @param keySeconds             time spent computing keys and the residuals reached (forward passes)
     * @param updateSeconds          time spent on solves and weight updates
     * @param restraintSeconds       time spent on PRUNE
     */
    record EditStats(int requests, int passes, int reEdited, double meanTargetNllBefore, double meanTargetNllAfter,
                     int restrainedDirections, double targetSeconds, double keySeconds, double updateSeconds,
                     double restraintSeconds) {
    }

    /**
     * An editor by name: {@code memit}, {@code nse} or {@code alphaedit}, optionally followed by {@code +prune}, its
     * {@link EditorSetup} computed here.
     *
     * @param c0     C0 per edit layer (see {@link SecondMomentStats})
     * @param parent manager under which the editor keeps its state (on the device the model runs on)
     * @param seed   seed of the context prefixes
     */
    static Editor create(String name, LanguageModel model, EditHyperparameters hyperparameters,
                         Map<Integer, FloatMatrix> c0, NDManager parent, long seed) {
        checkLayers(model, hyperparameters);
        for (int layer : hyperparameters.layers()) {
            if (!c0.containsKey(layer)) {
                throw new IllegalArgumentException("no C0 given for edit layer " + layer);
            }
        }
        return create(name, model, hyperparameters, EditorSetup.compute(name, hyperparameters, c0, parent), parent, seed);
    }

    /**
     * As {@link #create(String, LanguageModel, EditHyperparameters, Map, NDManager, long)}, from a setup computed before
     * (which holds all the editor needs of C0).
     */
    static Editor create(String name, LanguageModel model, EditHyperparameters hyperparameters, EditorSetup setup,
                         NDManager parent, long seed) {
        checkLayers(model, hyperparameters);
        String normalized = name.strip().toLowerCase(Locale.ROOT);
        return new SequentialEditor(normalized, SequentialEditor.algorithm(normalized), normalized.endsWith("+prune"), model,
                hyperparameters, setup, parent, seed, SequentialEditor.PRUNE_TOTALS_EVERY);
    }

    private static void checkLayers(LanguageModel model, EditHyperparameters hyperparameters) {
        for (int layer : hyperparameters.layers()) {
            if (layer < 0 || layer >= model.config().layers()) {
                throw new IllegalArgumentException("edit layer " + layer + " is outside the model's 0.." + (model.config().layers() - 1));
            }
            if (!model.config().hasMlp(layer)) {
                throw new IllegalArgumentException("edit layer " + layer + " has no MLP");
            }
        }
    }
}

package io.editstream.edit;

import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Applies batches of edits to one model, in order. An editor is stateful (the keys of earlier edits,
 * PRUNE's accumulated perturbation), so it is created on the unedited model and then sees every batch.
 */
public interface Editor extends AutoCloseable {

    /** The algorithm name it was created with, e.g. {@code nse+prune}. */
    String name();

    /** Edits the model in place and returns what changed, as low-rank factors per layer. */
    EditResult apply(List<EditRequest> batch);

    /**
     * Announces requests that {@link #apply} will see next, in order. An editor whose targets do not depend on the
     * edits before them (NSE: they come from θ0) computes them now, all together, which is several times cheaper than
     * one batch at a time; the others have nothing to do ahead. Targets computed together differ from targets computed
     * alone only by rounding, so a run that must be repeated bit for bit prepares the same requests in the same groups.
     */
    default void prepare(List<EditRequest> upcoming) {
    }

    @Override
    void close();

    /** What one batch changed and how it went. */
    record EditResult(List<LowRankDelta> deltas, EditStats stats) {
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
     * @param updateSeconds          time spent on keys, solves and weight updates
     * @param restraintSeconds       time spent on PRUNE
     */
    record EditStats(int requests, int passes, int reEdited, double meanTargetNllBefore, double meanTargetNllAfter,
                     int restrainedDirections, double targetSeconds, double updateSeconds, double restraintSeconds) {
    }

    /**
     * An editor by name: {@code memit}, {@code nse} or {@code alphaedit}, optionally followed by {@code +prune}.
     *
     * @param c0     C0 per edit layer (see {@link SecondMomentStats})
     * @param parent manager under which the editor keeps its state (on the device the model runs on)
     * @param seed   seed of the context prefixes
     */
    static Editor create(String name, LanguageModel model, EditHyperparameters hyperparameters,
                         Map<Integer, FloatMatrix> c0, NDManager parent, long seed) {
        String normalized = name.strip().toLowerCase(Locale.ROOT);
        boolean prune = normalized.endsWith("+prune");
        String base = prune ? normalized.substring(0, normalized.length() - "+prune".length()) : normalized;
        SequentialEditor.Algorithm algorithm = switch (base) {
            case "memit" -> SequentialEditor.Algorithm.MEMIT;
            case "nse" -> SequentialEditor.Algorithm.NSE;
            case "alphaedit" -> SequentialEditor.Algorithm.ALPHAEDIT;
            default -> throw new IllegalArgumentException(
                    "unknown editing algorithm '" + name + "': use memit, nse or alphaedit, optionally with +prune");
        };
        for (int layer : hyperparameters.layers()) {
            if (layer < 0 || layer >= model.config().layers()) {
                throw new IllegalArgumentException("edit layer " + layer + " is outside the model's 0.." + (model.config().layers() - 1));
            }
            if (!model.config().hasMlp(layer)) {
                throw new IllegalArgumentException("edit layer " + layer + " has no MLP");
            }
            if (!c0.containsKey(layer)) {
                throw new IllegalArgumentException("no C0 given for edit layer " + layer);
            }
        }
        return new SequentialEditor(normalized, algorithm, prune, model, hyperparameters, c0, parent, seed);
    }
}

package io.editstream.edit;

import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Computes an editor's targets for groups of upcoming requests on a copy of the unedited model that nothing else
 * touches, so a thread of its own can do it while the editor applies earlier batches ({@link Editor#targetPreparer}).
 * Only for targets that come from θ0 alone (NSE's). Bit for bit, a group's targets are the same whichever thread
 * computes them; a run that must be repeated prepares the same groups this way.
 */
public final class TargetPreparer {

    private final LanguageModel base;
    private final List<String> contextPrefixes;
    private final int targetLayer;
    private final EditHyperparameters.Target settings;

    TargetPreparer(LanguageModel base, List<String> contextPrefixes, int targetLayer, EditHyperparameters.Target settings) {
        this.base = base;
        this.contextPrefixes = List.copyOf(contextPrefixes);
        this.targetLayer = targetLayer;
        this.settings = settings;
    }

    /** The targets of a group's requests (duplicates once), computed together; confined to the calling thread. */
    public PreparedTargets prepare(List<EditRequest> group) {
        List<EditRequest> distinct = group.stream().distinct().toList();
        Map<EditRequest, EditTargets.Target> targets = new LinkedHashMap<>();
        if (distinct.isEmpty()) {
            return new PreparedTargets(targets);
        }
        try (NDManager manager = NDManager.newBaseManager(base.device())) {
            List<EditTargets.Target> computed = EditTargets.compute(manager, base, distinct, contextPrefixes, targetLayer, settings);
            for (int i = 0; i < distinct.size(); i++) {
                targets.put(distinct.get(i), computed.get(i));
            }
        }
        return new PreparedTargets(targets);
    }

    /** Targets a {@link TargetPreparer} computed, for {@link Editor#prepare(PreparedTargets)}. */
    public static final class PreparedTargets {
        private final Map<EditRequest, EditTargets.Target> targets;

        private PreparedTargets(Map<EditRequest, EditTargets.Target> targets) {
            this.targets = Map.copyOf(targets);
        }

        Map<EditRequest, EditTargets.Target> targets() {
            return targets;
        }
    }
}

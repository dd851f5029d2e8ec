package io.editstream.worker;

import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.TensorChange;
import io.editstream.checkpoint.WriteMode;
import io.editstream.edit.EditRejectedException;
import io.editstream.edit.Editor;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.EditEvaluation;
import io.editstream.events.EditRequest;
import io.editstream.events.LatencyBreakdown;
import io.editstream.tensor.FloatMatrix;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The edits of one batch, not yet covered by the model's version, turned into the next version: targets prepared by
 * group, the editor's update, blobs and manifest in the store, the model loaded with the version's exact bits, and
 * the evaluations. Publishing is the caller's (one transaction with the consumer offsets).
 */
final class BatchEdit {

    /** A request as the engine sees it, or why the engine cannot apply it. */
    record Candidate(EditRequest event, io.editstream.edit.EditRequest request, String reason) {

        static Candidate of(Editor editor, EditRequest event) {
            io.editstream.edit.EditRequest request;
            try {
                request = io.editstream.edit.EditRequest.of(event.getPromptTemplate(), event.getSubject(), event.getTargetNew(),
                        event.getTargetTrue());
            } catch (IllegalArgumentException e) {
                return new Candidate(event, null, e.getMessage());
            }
            return new Candidate(event, request, editor.check(request).orElse(null));
        }
    }

    /**
     * The version and the events that publish it.
     *
     * @param applied the requests the version applies (the others were skipped with a reason)
     */
    record Version(CheckpointPublished checkpoint, List<EditEvaluation> evaluations, List<io.editstream.edit.EditRequest> applied,
                   String timing) {
    }

    private final ModelRuntime runtime;
    private final List<EditRequest> requests;

    /** @param requests the batch's edits after the model's last applied sequence, starting right after it */
    BatchEdit(ModelRuntime runtime, List<EditRequest> requests) {
        this.runtime = runtime;
        this.requests = List.copyOf(requests);
    }

    long first() {
        return requests.get(0).getSequence();
    }

    long last() {
        return requests.get(requests.size() - 1).getSequence();
    }

    /**
     * The prepare groups this batch needs, or empty while it should wait for the rest of a group.
     *
     * @param queued the model's edits queued behind this batch, in order
     */
    Optional<List<PrepareGroups.Group>> plan(List<EditRequest> queued, boolean mayCut) {
        return runtime.groups().plan(last(), known(queued), mayCut);
    }

    /** Starts computing the targets of up to {@code most} whole groups after {@code planned} (see ModelRuntime#prepareAhead). */
    void prepareAhead(List<PrepareGroups.Group> planned, List<EditRequest> queued, int most) {
        long after = planned.isEmpty() ? runtime.groups().preparedThrough() : planned.get(planned.size() - 1).last();
        runtime.prepareAhead(runtime.groups().wholeAfter(after, known(queued), most));
    }

    /** Every sequence of this batch and the ones queued behind it: the request, or empty for one the editor cannot apply. */
    private NavigableMap<Long, Optional<io.editstream.edit.EditRequest>> known(List<EditRequest> queued) {
        NavigableMap<Long, Optional<io.editstream.edit.EditRequest>> known = new TreeMap<>();
        for (List<EditRequest> part : List.of(requests, queued)) {
            for (EditRequest event : part) {
                Candidate candidate = candidate(event);
                known.put(event.getSequence(), Optional.ofNullable(candidate.reason() == null ? candidate.request() : null));
            }
        }
        return known;
    }

    /** Applies the batch with the planned groups and writes its version to the store. */
    Version apply(List<PrepareGroups.Group> groups) throws IOException {
        long started = System.nanoTime();
        Editor editor = runtime.editor();
        boolean decided = runtime.groups().anyNew(groups);
        List<PrepareGroups.Group> open = runtime.groups().prepared(groups, first());
        if (decided) {
            // before any edit uses the new groups: a restart must find them as they were
            PrepareGroups.record(runtime.store(), runtime.modelId(), open);
        }
        for (PrepareGroups.Group group : groups) {
            runtime.prepare(group);
        }
        long prepared = System.nanoTime();

        List<Candidate> candidates = requests.stream().map(this::candidate).toList();
        Map<EditRequest, String> skipped = new LinkedHashMap<>();
        List<Candidate> applicable = new ArrayList<>(candidates);
        Editor.EditResult result = applyAll(editor, applicable, skipped);
        long edited = System.nanoTime();

        SortedMap<String, TensorChange> changes = result == null ? new TreeMap<>() : ModelCheckpoints.changes(runtime.model(), result.deltas());
        Manifest manifest = runtime.head().append(new Manifest.SequenceRange(first(), last()), runtime.editorInfo(), changes,
                result == null ? null : result.state().encode(Map.of(AppliedRequests.KEY,
                        AppliedRequests.encode(applicable.stream().map(Candidate::request).toList()))),
                WriteMode.REPLACE_UNCOMMITTED);
        // the version's bits, not the editor's own arithmetic, are what the next batch edits
        ModelCheckpoints.load(runtime.model(), runtime.head(), runtime.editLayers());
        long stored = System.nanoTime();

        Editor.EditStats stats = result == null ? null : result.stats();
        LatencyBreakdown latency = LatencyBreakdown.newBuilder()
                .setTargetsMs(millis(prepared - started) + (stats == null ? 0 : Math.round(stats.targetSeconds() * 1000)))
                .setKeysMs(stats == null ? 0 : Math.round(stats.keySeconds() * 1000))
                .setUpdateMs(stats == null ? 0 : Math.round(stats.updateSeconds() * 1000))
                .setRestraintMs(stats == null ? 0 : Math.round(stats.restraintSeconds() * 1000))
                .setPublishMs(millis(stored - edited))
                .build();
        List<io.editstream.edit.EditRequest> applied = applicable.stream().map(Candidate::request).toList();
        List<EditEvaluation> evaluations = evaluate(manifest.version(), candidates, skipped, latency);
        long evaluated = System.nanoTime();
        latency.setEvaluateMs(millis(evaluated - stored));
        latency.setTotalMs(millis(evaluated - started));
        evaluations.forEach(evaluation -> evaluation.setLatency(latency));

        CheckpointPublished checkpoint = CheckpointPublished.newBuilder()
                .setModelId(runtime.modelId())
                .setVersion(manifest.version())
                .setParentVersion(manifest.parentVersion())
                .setBaseModelSha256(manifest.baseSha256())
                .setFirstSequence(first())
                .setLastSequence(last())
                .setManifestUri(runtime.store().manifestUri(runtime.modelId(), manifest.version()))
                .setTensorHashes(new TreeMap<>(manifest.tensorSha256()))
                .setRestraint(runtime.editorInfo().restraint())
                .setPublishedAt(Instant.now())
                .build();
        String timing = String.format("%d applied, %d skipped; prepare %d ms, targets %d ms, keys %d ms, update %d ms, restraint %d ms, "
                        + "store %d ms, evaluate %d ms",
                applied.size(), skipped.size(), millis(prepared - started), stats == null ? 0 : Math.round(stats.targetSeconds() * 1000),
                latency.getKeysMs(), latency.getUpdateMs(), latency.getRestraintMs(), latency.getPublishMs(), latency.getEvaluateMs());
        return new Version(checkpoint, evaluations, applied, timing);
    }

    private List<EditEvaluation> evaluate(long version, List<Candidate> candidates, Map<EditRequest, String> skipped,
                                          LatencyBreakdown latency) throws IOException {
        EditEvaluator evaluator = runtime.evaluator();
        String modelId = runtime.modelId();
        long now = System.currentTimeMillis();
        List<EditEvaluation> evaluations = new ArrayList<>();
        for (Candidate candidate : candidates) {
            String reason = skipped.get(candidate.event());
            evaluations.add(reason == null
                    ? evaluator.evaluateEdit(modelId, version, candidate.event(), latency, now)
                    : evaluator.skippedEdit(modelId, version, candidate.event(), reason, latency, now));
        }
        List<FloatMatrix> edited = new ArrayList<>();
        for (int layer : runtime.editLayers()) {
            edited.add(runtime.head().tensor(runtime.model().mlpOutputName(layer)));
        }
        evaluations.add(evaluator.evaluateVersion(modelId, version, runtime.applied(), edited, latency, now));
        return evaluations;
    }

    private Candidate candidate(EditRequest event) {
        return Candidate.of(runtime.editor(), event);
    }

    /**
     * Applies the candidates the editor can apply as one batch; one it refuses, or rejects while applying, is left out
     * with its reason in {@code skipped} (nothing of a rejected batch stays applied) and the rest applied again.
     *
     * @param candidates the batch's candidates; left holding those applied
     * @return the result, or null when none was left to apply
     */
    static Editor.EditResult applyAll(Editor editor, List<Candidate> candidates, Map<EditRequest, String> skipped) {
        candidates.removeIf(candidate -> {
            if (candidate.reason() != null) {
                skipped.put(candidate.event(), candidate.reason());
            }
            return candidate.reason() != null;
        });
        Editor.EditResult result = null;
        while (!candidates.isEmpty() && result == null) {
            try {
                result = editor.apply(candidates.stream().map(Candidate::request).toList());
            } catch (EditRejectedException e) {
                Candidate rejected = candidates.remove(e.requestIndex());
                skipped.put(rejected.event(), e.reason());
            }
        }
        return result;
    }

    private static long millis(long nanos) {
        return nanos / 1_000_000;
    }
}

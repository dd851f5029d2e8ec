package io.editstream.worker;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import io.editstream.checkpoint.BaseModel;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.checkpoint.WriteMode;
import io.editstream.checkpoint.objects.ObjectStores;
import io.editstream.edit.Editor;
import io.editstream.edit.EditorSetup;
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import io.editstream.model.LanguageModel;
import io.editstream.model.format.ModelLoader;
import io.editstream.tensor.FloatMatrix;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An auditor's check of a model's chain: the chain written again from the base and the model's batches in
 * {@code edit-requests} alone, the way the worker writes it (one version per batch, the requests it already covers
 * left out, targets prepared in the same groups, a request the editor cannot apply skipped), with the editor,
 * hyperparameters and seed the worker recorded ({@link RecordedEditor}, checked against every manifest's editor), and
 * every version's tensor hashes compared with the store's manifest. The store's deltas are never read; C0 and the
 * editor's setup are (they are functions of the base and the C0 corpus alone, and the blob the chain was written with
 * is checked against its address). On the CPU every version matches bit for bit.
 */
public final class AuditReplay {

    private static final Logger log = LoggerFactory.getLogger(AuditReplay.class);

    private AuditReplay() {
    }

    /** How a replay ended. */
    public sealed interface Outcome permits Reproduced, Differs {
    }

    /** Every version up to {@code versions} was written again with the store's tensor hashes. */
    public record Reproduced(long versions) implements Outcome {
    }

    /** The first version that came out differently, and how. */
    public record Differs(long version, String difference) implements Outcome {
    }

    /**
     * Reads the committed batches of one model from the start of {@code edit-requests} up to its last stable offset,
     * in log order.
     *
     * @param kafka Kafka client settings (bootstrap servers, security); the consumer's own settings are added
     */
    public static List<EditBatch> readLog(Map<String, Object> kafka, SerdeSettings serdes, String modelId) {
        List<EditBatch> batches = new ArrayList<>();
        CommittedLog.read(kafka, serdes, Topics.EDIT_REQUESTS, EditBatch.class, batch -> {
            if (batch.getModelId().equals(modelId)) {
                batches.add(batch);
            }
        });
        return batches;
    }

    /**
     * Writes versions 1..{@code toVersion} again from {@code batches} and compares each with the store's.
     *
     * @param weights  the base model (a directory or llama2.c file); empty: the base's recorded source
     * @param scratch  an empty directory for the versions written again (a checkpoint store of its own)
     * @param progress told each version once it matched
     * @throws IllegalArgumentException when the store lacks the model, its versions or its recorded editor, or the
     *                                  log lacks the batches of a version
     */
    public static Outcome replay(CheckpointStore store, String modelId, List<EditBatch> batches, long toVersion,
                                 Optional<Path> weights, Path scratch, LongConsumer progress) throws IOException {
        BaseModel base = store.base(modelId).orElseThrow(() -> new IllegalArgumentException("the store has no model " + modelId));
        List<Long> versions = store.versions(modelId);
        long latest = versions.isEmpty() ? 0 : versions.get(versions.size() - 1);
        if (toVersion < 1 || toVersion > latest) {
            throw new IllegalArgumentException("model " + modelId + " has versions 1.." + latest + " in the store; cannot replay to "
                    + toVersion);
        }
        RecordedEditor recorded = RecordedEditor.read(store, modelId).orElseThrow(() -> new IllegalArgumentException("model " + modelId
                + ": the store has no recorded editor settings (reference " + RecordedEditor.REF + "), written by workers since "
                + "replay exists"));
        Path path = weights.orElse(Path.of(base.source()));
        int[] layers = recorded.hyperparameters().layerArray();
        Manifest.EditorInfo info = new Manifest.EditorInfo(recorded.editor(), recorded.hyperparametersSha256(), null);
        NavigableMap<Long, Optional<io.editstream.edit.EditRequest>> known = new TreeMap<>();
        // PyTorch's grad mode is per thread and on in a new one; the editors expect it off outside their own collectors
        JniUtils.setGradMode(false);
        try (CheckpointStore again = new CheckpointStore(ObjectStores.open(scratch.toString()), 0);
             LanguageModel model = ModelLoader.load(path, Device.cpu());
             LanguageModel baseCopy = ModelLoader.load(path, Device.cpu());
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            if (!model.weightsSha256().equals(base.sha256())) {
                throw new IllegalArgumentException(path + " hashes to " + model.weightsSha256() + ", not model " + modelId + "'s base "
                        + base.sha256());
            }
            String c0 = store.ref(modelId, StoredSecondMoments.REF).orElseThrow(() -> new IllegalArgumentException(
                    "model " + modelId + ": the store has no C0 (reference " + StoredSecondMoments.REF + ")"));
            EditorSetup setup = StoredEditorSetup.loadOrCompute(store, modelId, recorded.editor(), recorded.hyperparameters(),
                    info.hyperparametersSha256(), c0, model.config().mlpDim(), manager);
            try (Editor editor = Editor.create(recorded.editor(), model, recorded.hyperparameters(), setup, manager,
                    recorded.seed())) {
                for (EditBatch batch : batches) {
                    for (EditRequest event : batch.getEdits()) {
                        BatchEdit.Candidate candidate = BatchEdit.Candidate.of(editor, event);
                        known.putIfAbsent(event.getSequence(), Optional.ofNullable(candidate.reason() == null ? candidate.request() : null));
                    }
                }
                ModelCheckpoints.registerBase(again, modelId, model, path.toString(), layers);
                ModelHead head = again.head(modelId);
                PrepareGroups groups = new PrepareGroups(recorded.prepareGroupSize(), 0, List.of());
                long lastApplied = 0;
                long version = 0;
                for (EditBatch batch : batches) {
                    long covered = lastApplied;
                    List<EditRequest> requests = batch.getEdits().stream().filter(edit -> edit.getSequence() > covered).toList();
                    if (requests.isEmpty()) {
                        continue;
                    }
                    version++;
                    if (version > toVersion) {
                        break;
                    }
                    long first = requests.get(0).getSequence();
                    long last = requests.get(requests.size() - 1).getSequence();
                    if (first != lastApplied + 1) {
                        return new Differs(version, "the log's next batch starts at sequence " + first + " after sequence " + lastApplied
                                + ": a gap, which no worker writes a version across");
                    }
                    Optional<Manifest> manifest = store.manifest(modelId, version);
                    if (manifest.isEmpty()) {
                        return new Differs(version, "the store has no manifest of this version");
                    }
                    Manifest stored = manifest.get();
                    Optional<String> difference = describe(stored, info, first, last);
                    if (difference.isPresent()) {
                        return new Differs(version, difference.get());
                    }
                    List<PrepareGroups.Group> planned = groups.plan(last, known.tailMap(lastApplied, false), true).orElseThrow();
                    groups.prepared(planned, first);
                    for (PrepareGroups.Group group : planned) {
                        // as the worker does: through a preparer on a copy of the base wherever the editor offers one
                        if (editor.preparesTargetsFromBase()) {
                            editor.prepare(editor.targetPreparer(baseCopy).orElseThrow().prepare(group.requests()));
                        } else {
                            editor.prepare(group.requests());
                        }
                    }
                    List<BatchEdit.Candidate> applicable = new ArrayList<>(requests.stream()
                            .map(event -> BatchEdit.Candidate.of(editor, event)).toList());
                    Editor.EditResult result = BatchEdit.applyAll(editor, applicable, new LinkedHashMap<>());
                    Manifest written = head.append(new Manifest.SequenceRange(first, last), info,
                            result == null ? new TreeMap<>() : ModelCheckpoints.changes(model, result.deltas()),
                            result == null ? null : result.state().encode(), WriteMode.REPLACE_UNCOMMITTED);
                    ModelCheckpoints.load(model, head, layers);
                    Optional<String> tensors = compare(written.tensorSha256(), stored.tensorSha256());
                    if (tensors.isPresent()) {
                        return new Differs(version, tensors.get());
                    }
                    log.info("model {} version {} (sequences {}..{}) reproduced", modelId, version, first, last);
                    progress.accept(version);
                    lastApplied = last;
                }
                if (version < toVersion) {
                    throw new IllegalArgumentException("model " + modelId + ": the log holds the batches of versions 1.." + version
                            + " only, not of " + toVersion);
                }
                return new Reproduced(toVersion);
            }
        }
    }

    /** Written again into {@code scratch} as by {@link #replay}, returning the last version's edited tensors. */
    static SortedMap<String, FloatMatrix> tensorsAfter(Path scratch, String modelId, long version) throws IOException {
        try (CheckpointStore again = new CheckpointStore(ObjectStores.open(scratch.toString()), 0)) {
            return new TreeMap<>(again.materialise(modelId, version, CheckpointStore.Start.BASE).tensors());
        }
    }

    /** How a stored manifest disagrees with the version the log and the recorded editor make, if it does. */
    private static Optional<String> describe(Manifest stored, Manifest.EditorInfo info, long first, long last) {
        if (stored.sequence().first() != first || stored.sequence().last() != last) {
            return Optional.of("the manifest applies sequences " + stored.sequence().first() + ".." + stored.sequence().last()
                    + " but the log's batch is " + first + ".." + last);
        }
        if (!stored.editor().algorithm().equalsIgnoreCase(info.algorithm())
                || !stored.editor().hyperparametersSha256().equals(info.hyperparametersSha256())) {
            return Optional.of("the manifest names editor " + stored.editor().algorithm() + " with hyperparameters "
                    + stored.editor().hyperparametersSha256() + " but the recorded editor is " + info.algorithm() + " with "
                    + info.hyperparametersSha256());
        }
        return Optional.empty();
    }

    private static Optional<String> compare(SortedMap<String, String> written, SortedMap<String, String> stored) {
        SortedSet<String> tensors = new TreeSet<>(written.keySet());
        tensors.addAll(stored.keySet());
        for (String tensor : tensors) {
            String again = written.get(tensor);
            String recorded = stored.get(tensor);
            if (!Objects.equals(again, recorded)) {
                return Optional.of("tensor " + tensor + ": the replay gives sha256 " + again + ", the manifest says " + recorded);
            }
        }
        return Optional.empty();
    }
}

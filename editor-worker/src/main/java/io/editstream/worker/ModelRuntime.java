package io.editstream.worker;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.edit.BatchState;
import io.editstream.edit.EditHyperparameters;
import io.editstream.edit.Editor;
import io.editstream.edit.EditorSetup;
import io.editstream.edit.TargetPreparer;
import io.editstream.events.CheckpointPublished;
import io.editstream.model.LanguageModel;
import io.editstream.model.format.ModelLoader;
import io.editstream.tensor.Safetensors;
import io.editstream.tensor.Sha256;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One model id as the worker runs it: the model, its C0's blob, the evaluator built on its base weights, the editor, and the
 * version it stands at. {@link #restore} brings it to a committed version without optimising a single target again.
 */
final class ModelRuntime implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ModelRuntime.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration PROGRESS_EVERY = Duration.ofSeconds(10);

    private final String modelId;
    private final WorkerSettings.ModelSettings settings;
    private final CheckpointStore store;
    private final LanguageModel model;
    private final NDManager manager;
    private final EditHyperparameters hyperparameters;
    private final Manifest.EditorInfo editorInfo;
    /** The blob of the C0 the chain edits with; read only when an editor setup must be computed. */
    private final String c0Blob;
    private final EditEvaluator evaluator;
    /** Every request the chain applied, oldest first: where retention samples come from. */
    private final List<io.editstream.edit.EditRequest> applied = new ArrayList<>();
    private Editor editor;
    /**
     * NSE's targets come from θ0 alone: a thread of their own computes them on a copy of the base model while the
     * editor applies earlier batches. Null for editors whose targets depend on the edits before them.
     */
    private LanguageModel baseCopy;
    private ExecutorService preparing;
    private TargetPreparer preparer;
    /** Groups whose targets are being computed or wait to be taken, by group. */
    private final Map<PrepareGroups.Group, Future<TargetPreparer.PreparedTargets>> ahead = new HashMap<>();
    private ModelHead head;
    private long lastApplied;
    private PrepareGroups groups;
    private String stopped;

    private ModelRuntime(String modelId, WorkerSettings.ModelSettings settings, CheckpointStore store, LanguageModel model,
                         NDManager manager) throws IOException {
        this.modelId = modelId;
        this.settings = settings;
        this.store = store;
        this.model = model;
        this.manager = manager;
        this.hyperparameters = EditHyperparameters.load(settings.hyperparameters());
        this.editorInfo = new Manifest.EditorInfo(settings.editor(), hyperparametersSha256(hyperparameters), restraint());
        log.info("model {}: {} on {} ({} edit layers {})", modelId, settings.editor(), settings.path(), hyperparameters.layers().size(),
                hyperparameters.layers());
        ModelCheckpoints.registerBase(store, modelId, model, settings.path(), hyperparameters.layerArray());
        RecordedEditor.of(settings, hyperparameters).record(store, modelId);
        int samples = settings.c0().samples() > 0 ? settings.c0().samples() : hyperparameters.secondMoment().samples();
        this.c0Blob = StoredSecondMoments.locateOrCompute(store, modelId, model, manager, hyperparameters.layerArray(), samples,
                () -> ModelTexts.c0Corpus(settings.c0().corpus(), model, manager));
        // the evaluator measures drift against the model as it is now: the base
        this.evaluator = new EditEvaluator(model, settings.evaluation(), ModelTexts.heldOut(settings.heldOut(), model, manager),
                settings.localityPrompts());
    }

    /** What a manifest names an editor's hyperparameters by: the sha256 of their JSON as the worker read them. */
    static String hyperparametersSha256(EditHyperparameters hyperparameters) throws IOException {
        return Sha256.of(JSON.writeValueAsBytes(hyperparameters));
    }

    /** Loads the model and everything built on its base weights; {@link #restore} must follow before any edit. */
    static ModelRuntime open(String modelId, WorkerSettings.ModelSettings settings, CheckpointStore store) throws IOException {
        Device device = settings.device().equals("gpu") ? Device.gpu() : Device.cpu();
        LanguageModel model = ModelLoader.load(Path.of(settings.path()), device);
        NDManager manager = NDManager.newBaseManager(device);
        try {
            return new ModelRuntime(modelId, settings, store, model, manager);
        } catch (IOException | RuntimeException | Error e) {
            manager.close();
            model.close();
            throw e;
        }
    }

    /**
     * Brings the model and a new editor to {@code committed} (the base when empty): the editor is created on the base
     * weights, given the editor state of every version up to it, then the version's weights are loaded, in the order
     * {@link Editor#restore} asks for. Versions above it in the store never committed and will be overwritten.
     */
    void restore(Optional<CheckpointPublished> committed) throws IOException {
        long started = System.nanoTime();
        closeEditor();
        applied.clear();
        // what is computed ahead belongs to the editor that is gone (a restored one plans its groups again)
        ahead.values().forEach(future -> future.cancel(false));
        ahead.clear();
        preparer = null;
        int[] layers = hyperparameters.layerArray();
        ModelCheckpoints.load(model, store.head(modelId), layers);
        EditorSetup setup = StoredEditorSetup.loadOrCompute(store, modelId, settings.editor(), hyperparameters,
                editorInfo.hyperparametersSha256(), c0Blob, model.config().mlpDim(), manager);
        editor = Editor.create(settings.editor(), model, hyperparameters, setup, manager, settings.seed());
        startPreparing();
        if (committed.isEmpty()) {
            head = store.head(modelId);
            lastApplied = 0;
        } else {
            CheckpointPublished version = committed.get();
            head = store.materialise(modelId, version.getVersion(), CheckpointStore.Start.NEAREST);
            if (!head.manifest().orElseThrow().tensorSha256().equals(version.getTensorHashes())) {
                throw new IllegalStateException("model " + modelId + " version " + version.getVersion() + ": the store's tensor hashes "
                        + head.manifest().orElseThrow().tensorSha256() + " are not the committed " + version.getTensorHashes());
            }
            List<BatchState> states = history(version.getVersion());
            log.info("model {}: replaying the editor state of {} versions", modelId, states.size());
            editor.restore(states);
            ModelCheckpoints.load(model, head, layers);
            lastApplied = version.getLastSequence();
        }
        groups = new PrepareGroups(settings.prepareGroupSize(), lastApplied, PrepareGroups.recorded(store, modelId));
        stopped = null;
        log.info("model {} at version {} (sequences through {}), restored in {} ms", modelId, head.version(), lastApplied,
                (System.nanoTime() - started) / 1_000_000);
    }

    private void startPreparing() throws IOException {
        if (!editor.preparesTargetsFromBase()) {
            return;
        }
        if (baseCopy == null) {
            baseCopy = ModelLoader.load(Path.of(settings.path()), model.device());
            preparing = Executors.newSingleThreadExecutor(runnable -> {
                Thread thread = new Thread(() -> {
                    // grad mode is per thread and on in a new one; the targets' optimisation expects it off outside its collector
                    JniUtils.setGradMode(false);
                    runnable.run();
                }, "editstream-targets-" + modelId);
                thread.setDaemon(true);
                return thread;
            });
        }
        preparer = editor.targetPreparer(baseCopy).orElseThrow();
    }

    /** Starts computing the targets of groups the batches behind the current one will need. */
    void prepareAhead(List<PrepareGroups.Group> groups) {
        if (preparer == null) {
            return;
        }
        TargetPreparer current = preparer;
        for (PrepareGroups.Group group : groups) {
            ahead.computeIfAbsent(group, g -> preparing.submit(() -> current.prepare(g.requests())));
        }
    }

    /** Hands the editor a group's targets: from the preparing thread (waiting for them) or, without one, computed now. */
    void prepare(PrepareGroups.Group group) {
        if (preparer == null) {
            editor.prepare(group.requests());
            return;
        }
        prepareAhead(List.of(group));
        try {
            editor.prepare(ahead.remove(group).get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the targets of sequences " + group.first() + ".." + group.last(), e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("computing the targets of sequences " + group.first() + ".." + group.last() + " failed: "
                    + e.getCause(), e.getCause());
        }
    }

    /** The editor states of versions 1..version, in order; versions that applied nothing (all skipped) have none. */
    private List<BatchState> history(long version) throws IOException {
        List<BatchState> states = new ArrayList<>();
        long lastProgress = System.nanoTime();
        for (long v = 1; v <= version; v++) {
            if (System.nanoTime() - lastProgress > PROGRESS_EVERY.toNanos()) {
                log.info("model {}: read the editor state of versions 1..{} of {}", modelId, v - 1, version);
                lastProgress = System.nanoTime();
            }
            long current = v;
            Manifest manifest = store.manifest(modelId, v).orElseThrow(
                    () -> new IllegalStateException("model " + modelId + " has no version " + current + " in the store"));
            if (manifest.editorState() != null) {
                String source = "model " + modelId + " version " + v + " editor state";
                byte[] state = store.blob(manifest.editorState(), source);
                states.add(BatchState.decode(state));
                applied.addAll(AppliedRequests.decode(Safetensors.metadata(state, source).get(AppliedRequests.KEY), source));
            }
        }
        return states;
    }

    private String restraint() {
        if (!settings.editor().strip().toLowerCase(java.util.Locale.ROOT).endsWith("+prune")) {
            return null;
        }
        double alpha = hyperparameters.prune().alpha();
        return "PRUNE(alpha=" + (alpha == Math.E ? "e" : Double.toString(alpha)) + ")";
    }

    String modelId() {
        return modelId;
    }

    WorkerSettings.ModelSettings settings() {
        return settings;
    }

    CheckpointStore store() {
        return store;
    }

    LanguageModel model() {
        return model;
    }

    Editor editor() {
        return editor;
    }

    EditEvaluator evaluator() {
        return evaluator;
    }

    int[] editLayers() {
        return hyperparameters.layerArray();
    }

    Manifest.EditorInfo editorInfo() {
        return editorInfo;
    }

    ModelHead head() {
        return head;
    }

    PrepareGroups groups() {
        return groups;
    }

    long lastApplied() {
        return lastApplied;
    }

    /** Every request the chain applied up to the head, oldest first: where retention samples come from. */
    List<io.editstream.edit.EditRequest> applied() {
        return applied;
    }

    /** Records that the head's new version covers sequences through {@code last}. */
    void advanced(long last, List<io.editstream.edit.EditRequest> appliedNow) {
        lastApplied = last;
        applied.addAll(appliedNow);
    }

    /** Stops editing this model; batches for it are passed over until a restart. */
    void stop(String reason) {
        stopped = reason;
        log.error("model {} stopped: {}", modelId, reason);
    }

    Optional<String> stopped() {
        return Optional.ofNullable(stopped);
    }

    boolean restored() {
        return editor != null;
    }

    /** The preparing thread's targets live in its own managers on the base copy: it must be done before the copy closes. */
    private void awaitPreparing() {
        try {
            if (!preparing.awaitTermination(2, TimeUnit.MINUTES)) {
                log.warn("model {}: the target preparation did not stop within 2 minutes", modelId);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void closeEditor() {
        if (editor != null) {
            editor.close();
            editor = null;
        }
    }

    @Override
    public void close() {
        try {
            if (preparing != null) {
                preparing.shutdownNow();
                awaitPreparing();
            }
            closeEditor();
        } finally {
            if (baseCopy != null) {
                baseCopy.close();
            }
            try {
                manager.close();
            } finally {
                model.close();
            }
        }
    }
}

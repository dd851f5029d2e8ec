package io.editstream.checkpoint;

import io.editstream.tensor.FloatMatrix;
import java.io.IOException;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A model's edited tensors at one version, materialised in memory: what a writer appends the next version to, what a
 * subscriber moves forward, and what a reader hands to a model. Tensors never edited are the base's and are not held.
 * Not thread-safe.
 */
public final class ModelHead {

    private final CheckpointStore store;
    private final BaseModel base;
    private final SortedMap<String, FloatMatrix> tensors = new TreeMap<>();
    private final Map<String, String> hashes = new HashMap<>();
    private final Map<String, FloatMatrix> baseTensors = new HashMap<>();
    private Manifest manifest;

    ModelHead(CheckpointStore store, BaseModel base) {
        this.store = store;
        this.base = base;
    }

    public BaseModel base() {
        return base;
    }

    public String modelId() {
        return base.modelId();
    }

    /** The version materialised: 0 for the base. */
    public long version() {
        return manifest == null ? 0 : manifest.version();
    }

    /** The manifest of {@link #version()}, empty at the base. */
    public Optional<Manifest> manifest() {
        return Optional.ofNullable(manifest);
    }

    /** Every tensor edited so far, as it stands at this version. */
    public SortedMap<String, FloatMatrix> tensors() {
        return Collections.unmodifiableSortedMap(tensors);
    }

    /** An editable tensor at this version (the base's value when no version changed it). */
    public FloatMatrix tensor(String name) throws IOException {
        FloatMatrix edited = tensors.get(name);
        return edited != null ? edited : baseTensor(name);
    }

    /**
     * Writes the next version: applies each change to this head's tensors with {@link DeltaArithmetic}, stores the
     * blobs, the snapshots when this version number is a multiple of the store's interval, the editor state, and the
     * manifest; this head moves to the new version only once the manifest is written.
     *
     * @param editorState blob bytes the editor needs to continue from this version (opaque here), or null
     */
    public Manifest append(Manifest.SequenceRange sequence, Manifest.EditorInfo editor, SortedMap<String, TensorChange> changes,
                           byte[] editorState, WriteMode mode) throws IOException {
        long version = version() + 1;
        SortedMap<String, FloatMatrix> next = new TreeMap<>(tensors);
        Map<String, String> nextHashes = new HashMap<>(hashes);
        SortedMap<String, Delta> deltas = new TreeMap<>();
        for (Map.Entry<String, TensorChange> entry : changes.entrySet()) {
            String name = StoreKeys.checkTensorName(entry.getKey());
            if (!base.stored().containsKey(name)) {
                base.matrixShape(name); // names the missing tensor, if that is why
                throw new IllegalArgumentException("model " + modelId() + ": tensor " + name
                        + " is not editable (its base values are not stored; only 2-D tensors registered as editable are)");
            }
            TensorChange change = entry.getValue();
            FloatMatrix updated = change.applyTo(change.kind() == Delta.Kind.REBASE ? baseTensor(name) : tensor(name));
            Delta delta = new Delta(change.kind(), store.putTensors(change.blobTensors()), change.rank(), change.transposed());
            next.put(name, updated);
            nextHashes.put(name, updated.sha256());
            deltas.put(name, delta);
        }
        SortedMap<String, String> snapshots = new TreeMap<>();
        if (store.snapshotEvery() > 0 && version % store.snapshotEvery() == 0) {
            for (Map.Entry<String, FloatMatrix> tensor : next.entrySet()) {
                snapshots.put(tensor.getKey(), store.putTensors(weight(tensor.getValue())));
            }
        }
        String state = editorState == null ? null : store.putBlob(editorState);
        Manifest written = store.writeManifest(new Manifest(Manifest.FORMAT_VERSION, base.modelId(), version,
                manifest == null ? null : manifest.version(), base.sha256(), sequence, editor, deltas, snapshots,
                new TreeMap<>(nextHashes), state), mode);
        tensors.clear();
        tensors.putAll(next);
        hashes.clear();
        hashes.putAll(nextHashes);
        manifest = written;
        return written;
    }

    /**
     * Moves forward to a later version of the same chain, applying and checking each version in between; a version
     * whose parent is not the one before it (a chain rewritten elsewhere) is refused.
     */
    public void advanceTo(long target) throws IOException {
        if (target < version()) {
            throw new IllegalArgumentException("model " + modelId() + " is at version " + version() + "; " + target + " lies behind it");
        }
        for (long next = version() + 1; next <= target; next++) {
            Manifest following = store.requireManifest(modelId(), next);
            Long parent = following.parentVersion();
            if ((parent == null ? 0 : parent) != version()) {
                throw new CorruptCheckpointException("model " + modelId() + " version " + next + " names parent " + parent
                        + ", not version " + version() + " (broken chain)");
            }
            applyDeltas(following);
            verifyAll();
        }
    }

    /** Takes every tensor from a version that stands alone: its snapshots, or its base-relative deltas. */
    void startAt(Manifest standing) throws IOException {
        tensors.clear();
        hashes.clear();
        for (String name : standing.tensorSha256().keySet()) {
            String snapshot = standing.snapshots().get(name);
            if (snapshot != null) {
                FloatMatrix weight = readWeight(snapshot, context(standing, name));
                checkShape(name, weight);
                tensors.put(name, weight);
            } else {
                apply(standing, name, standing.deltas().get(name));
            }
        }
        manifest = standing;
    }

    /** Applies one version's deltas on top of this head (which must be at its parent, or the chain start). */
    void applyDeltas(Manifest next) throws IOException {
        for (Map.Entry<String, Delta> delta : next.deltas().entrySet()) {
            apply(next, delta.getKey(), delta.getValue());
        }
        manifest = next;
    }

    private void apply(Manifest version, String name, Delta delta) throws IOException {
        String context = context(version, name);
        if (!base.stored().containsKey(name)) {
            throw new CorruptCheckpointException(context + ": the model (base " + base.sha256() + ") has no editable tensor " + name);
        }
        FloatMatrix updated;
        if (delta.kind() == Delta.Kind.SNAPSHOT) {
            updated = readWeight(delta.blob(), context);
            checkShape(name, updated);
        } else {
            Map<String, FloatMatrix> factors = store.tensors(delta.blob(), context);
            FloatMatrix a = factors.get("a");
            FloatMatrix b = factors.get("b");
            if (a == null || b == null || a.cols() != delta.rank() || b.cols() != delta.rank()) {
                throw new CorruptCheckpointException(context + ": blob " + delta.blob() + " does not hold factors a, b of rank " + delta.rank());
            }
            FloatMatrix start = delta.kind() == Delta.Kind.REBASE ? baseTensor(name) : tensor(name);
            try {
                updated = DeltaArithmetic.plusProduct(start, a, b, delta.transposed());
            } catch (IllegalArgumentException e) {
                throw new CorruptCheckpointException(context + ": " + e.getMessage());
            }
        }
        tensors.put(name, updated);
        hashes.remove(name);
    }

    /** Checks every tensor against the current manifest's hashes. */
    void verifyAll() throws IOException {
        if (manifest == null) {
            return;
        }
        if (!tensors.keySet().equals(manifest.tensorSha256().keySet())) {
            throw new CorruptCheckpointException("model " + modelId() + " version " + version() + " lists edited tensors "
                    + manifest.tensorSha256().keySet() + " but its chain edits " + tensors.keySet());
        }
        for (Map.Entry<String, String> expected : manifest.tensorSha256().entrySet()) {
            String actual = hashes.computeIfAbsent(expected.getKey(), name -> tensors.get(name).sha256());
            if (!actual.equals(expected.getValue())) {
                throw CorruptCheckpointException.hashMismatch(modelId(), version(), expected.getKey(), expected.getValue(), actual);
            }
        }
    }

    /** Checks that a version's snapshots hold exactly this head's tensors (which must be at that version). */
    void verifySnapshots(Manifest version) throws IOException {
        for (Map.Entry<String, String> snapshot : version.snapshots().entrySet()) {
            String actual = readWeight(snapshot.getValue(), context(version, snapshot.getKey())).sha256();
            String expected = version.tensorSha256().get(snapshot.getKey());
            if (!actual.equals(expected)) {
                throw new CorruptCheckpointException(context(version, snapshot.getKey()) + ": snapshot hashes to " + actual
                        + ", the chain gives " + expected);
            }
        }
    }

    private FloatMatrix baseTensor(String name) throws IOException {
        FloatMatrix cached = baseTensors.get(name);
        if (cached == null) {
            cached = store.baseTensor(base, name);
            baseTensors.put(name, cached);
        }
        return cached;
    }

    private FloatMatrix readWeight(String blob, String context) throws IOException {
        FloatMatrix weight = store.tensors(blob, context).get(CheckpointStore.WEIGHT);
        if (weight == null) {
            throw new CorruptCheckpointException(context + ": blob " + blob + " holds no '" + CheckpointStore.WEIGHT + "' tensor");
        }
        return weight;
    }

    private void checkShape(String name, FloatMatrix weight) throws CorruptCheckpointException {
        int[] shape = base.matrixShape(name);
        if (weight.rows() != shape[0] || weight.cols() != shape[1]) {
            throw new CorruptCheckpointException("model " + modelId() + " tensor " + name + ": [" + weight.rows() + ", " + weight.cols()
                    + "] given, the model's is [" + shape[0] + ", " + shape[1] + "]");
        }
    }

    private String context(Manifest version, String tensor) {
        return "model " + modelId() + " version " + version.version() + " tensor " + tensor;
    }

    private static SortedMap<String, FloatMatrix> weight(FloatMatrix w) {
        return new TreeMap<>(Map.of(CheckpointStore.WEIGHT, w));
    }
}

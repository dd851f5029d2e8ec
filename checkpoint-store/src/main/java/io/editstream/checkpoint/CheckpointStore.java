package io.editstream.checkpoint;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.editstream.checkpoint.objects.ObjectStore;
import io.editstream.tensor.FloatMatrix;
import io.editstream.tensor.Safetensors;
import io.editstream.tensor.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Versioned checkpoints of edited models over an {@link ObjectStore}: a base per model id, a chain of manifests, and
 * content-addressed safetensors blobs. Writes are create-only or explicitly replacing, reads verify every hash, and
 * the arithmetic of a delta is {@link DeltaArithmetic}'s, so a version is the same bytes for every reader.
 *
 * <p>Thread-safe as far as its object store is: it keeps no mutable state of its own.
 */
public final class CheckpointStore implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CheckpointStore.class);

    static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

    /** The tensor name inside a snapshot or base blob. */
    static final String WEIGHT = "weight";

    private final ObjectStore objects;
    private final int snapshotEvery;

    /**
     * @param snapshotEvery every how many versions a writer also stores the full tensors (0: never)
     */
    public CheckpointStore(ObjectStore objects, int snapshotEvery) {
        if (snapshotEvery < 0) {
            throw new IllegalArgumentException("snapshot interval must be >= 0, got " + snapshotEvery);
        }
        this.objects = objects;
        this.snapshotEvery = snapshotEvery;
    }

    public ObjectStore objects() {
        return objects;
    }

    public int snapshotEvery() {
        return snapshotEvery;
    }

    // ---- blobs

    /** Stores 2-D float32 tensors as one canonical safetensors blob; returns its sha256. Storing it again is a no-op. */
    public String putTensors(SortedMap<String, FloatMatrix> tensors) throws IOException {
        return putBlob(Safetensors.encode(tensors, Map.of()));
    }

    /** Stores a blob (safetensors bytes the caller encoded, e.g. editor state); returns its sha256. Idempotent. */
    public String putBlob(byte[] bytes) throws IOException {
        String sha = Sha256.of(bytes);
        objects.putIfAbsent(StoreKeys.blob(sha), bytes);
        return sha;
    }

    /** A blob's bytes, checked against its address; {@code context} says who needs it, for the error. */
    public byte[] blob(String sha, String context) throws IOException {
        byte[] bytes = objects.get(StoreKeys.blob(sha)).orElseThrow(
                () -> new CorruptCheckpointException(context + ": blob " + sha + " is missing from the store"));
        String actual = Sha256.of(bytes);
        if (!actual.equals(sha)) {
            throw new CorruptCheckpointException(context + ": blob " + sha + " is corrupt (its bytes hash to " + actual + ")");
        }
        return bytes;
    }

    /**
     * As {@link #blob}, read in pieces into memory outside the Java heap (little-endian, position 0): a model-width
     * float64 matrix is 800 MB, and arrays that size fragment the heap until an allocation fails with memory free.
     */
    public ByteBuffer blobOffHeap(String sha, String context) throws IOException {
        try (ObjectStore.Reading reading = objects.open(StoreKeys.blob(sha)).orElseThrow(
                () -> new CorruptCheckpointException(context + ": blob " + sha + " is missing from the store"))) {
            if (reading.length() > Integer.MAX_VALUE) {
                throw new IOException(context + ": blob " + sha + " has " + reading.length() + " bytes, more than one buffer holds");
            }
            ByteBuffer bytes = ByteBuffer.allocateDirect((int) reading.length()).order(ByteOrder.LITTLE_ENDIAN);
            MessageDigest digest = Sha256.digest();
            byte[] piece = new byte[1 << 20];
            for (int read; (read = reading.content().read(piece)) > 0; ) {
                if (read > bytes.remaining()) {
                    throw new CorruptCheckpointException(context + ": blob " + sha + " is longer than the " + reading.length()
                            + " bytes the store lists");
                }
                bytes.put(piece, 0, read);
                digest.update(piece, 0, read);
            }
            String actual = HexFormat.of().formatHex(digest.digest());
            if (bytes.hasRemaining() || !actual.equals(sha)) {
                throw new CorruptCheckpointException(context + ": blob " + sha + " is corrupt (its " + bytes.position()
                        + " bytes hash to " + actual + ")");
            }
            return bytes.flip();
        }
    }

    /** A blob's tensors, checked against its address. */
    public Map<String, FloatMatrix> tensors(String sha, String context) throws IOException {
        byte[] bytes = blob(sha, context);
        try {
            return Safetensors.decode(bytes, context + ": blob " + sha);
        } catch (IOException e) {
            throw new CorruptCheckpointException(e.getMessage());
        }
    }

    boolean hasBlob(String sha) throws IOException {
        return objects.get(StoreKeys.blob(sha)).isPresent();
    }

    // ---- bases

    /**
     * Registers the base of a model id: its identity, every tensor's shape and hash, and the values of the tensors
     * edits may change. Registering the same base again (with the same or more stored tensors) is fine; another base
     * under the same model id is refused.
     */
    public BaseModel registerBase(String modelId, String sha256, String source, SortedMap<String, BaseModel.TensorInfo> tensors,
                                  SortedMap<String, FloatMatrix> editable) throws IOException {
        SortedMap<String, String> stored = new TreeMap<>();
        for (Map.Entry<String, FloatMatrix> tensor : editable.entrySet()) {
            BaseModel.TensorInfo info = tensors.get(tensor.getKey());
            String actual = tensor.getValue().sha256();
            if (info == null || !info.sha256().equals(actual)) {
                throw new IllegalArgumentException("editable tensor " + tensor.getKey() + " hashes to " + actual
                        + (info == null ? ", and the model has no such tensor" : ", the model's list says " + info.sha256()));
            }
            stored.put(tensor.getKey(), putTensors(new TreeMap<>(Map.of(WEIGHT, tensor.getValue()))));
        }
        Optional<BaseModel> existing = base(modelId);
        if (existing.isPresent()) {
            BaseModel known = existing.get();
            if (!known.sha256().equals(sha256)) {
                throw new IllegalArgumentException("model " + modelId + " is registered with base " + known.sha256()
                        + "; this model's weights hash to " + sha256 + " (use another model id for another base)");
            }
            if (known.stored().keySet().containsAll(stored.keySet())) {
                return known;
            }
            SortedMap<String, String> merged = new TreeMap<>(known.stored());
            merged.putAll(stored);
            BaseModel grown = new BaseModel(BaseModel.FORMAT_VERSION, modelId, sha256, known.source(), known.tensors(), merged);
            objects.put(StoreKeys.base(modelId), json(grown));
            return grown;
        }
        BaseModel base = new BaseModel(BaseModel.FORMAT_VERSION, modelId, sha256, source, tensors, stored);
        if (!objects.putIfAbsent(StoreKeys.base(modelId), json(base))) {
            return registerBase(modelId, sha256, source, tensors, editable); // another writer registered first: check it
        }
        log.info("registered base {} of model {} ({} tensors, {} stored)", sha256, modelId, tensors.size(), stored.size());
        return base;
    }

    public Optional<BaseModel> base(String modelId) throws IOException {
        Optional<byte[]> bytes = objects.get(StoreKeys.base(modelId));
        if (bytes.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(parse(bytes.get(), BaseModel.class, "base of model " + modelId));
    }

    BaseModel requireBase(String modelId) throws IOException {
        return base(modelId).orElseThrow(() -> new CorruptCheckpointException("model " + modelId + " has no registered base in the store"));
    }

    /** The base value of an editable tensor, checked against the base's tensor hash. */
    FloatMatrix baseTensor(BaseModel base, String tensor) throws IOException {
        String blob = base.stored().get(tensor);
        String context = "model " + base.modelId() + " base";
        if (blob == null) {
            throw new CorruptCheckpointException(context + ": no stored base values for tensor " + tensor);
        }
        FloatMatrix weight = tensors(blob, context).get(WEIGHT);
        if (weight == null) {
            throw new CorruptCheckpointException(context + ": blob " + blob + " holds no '" + WEIGHT + "' tensor");
        }
        String expected = base.tensors().get(tensor).sha256();
        String actual = weight.sha256();
        if (!expected.equals(actual)) {
            throw new CorruptCheckpointException(context + ": tensor " + tensor + " hashes to " + actual + ", the base says " + expected);
        }
        return weight;
    }

    // ---- references kept beside the base

    /** Names a blob under the model (e.g. {@code c0}): kept by garbage collection, found again by name. */
    public void putRef(String modelId, String name, String blobSha) throws IOException {
        if (!Sha256.isHex(blobSha)) {
            throw new IllegalArgumentException("a reference names a blob sha256, got '" + blobSha + "'");
        }
        objects.put(StoreKeys.ref(modelId, name), json(Map.of("blob", blobSha)));
    }

    public Optional<String> ref(String modelId, String name) throws IOException {
        return readRef(StoreKeys.ref(modelId, name), "model " + modelId + " reference " + name);
    }

    /**
     * Names a blob derived from a base that every model on that base may reuse (C0 of a corpus, an editor's setup);
     * the name must hash everything the blob was derived from. Kept by garbage collection.
     */
    public void putDerived(String name, String blobSha) throws IOException {
        if (!Sha256.isHex(blobSha)) {
            throw new IllegalArgumentException("a derived reference names a blob sha256, got '" + blobSha + "'");
        }
        objects.put(StoreKeys.derived(name), json(Map.of("blob", blobSha)));
    }

    public Optional<String> derived(String name) throws IOException {
        return readRef(StoreKeys.derived(name), "derived reference " + name);
    }

    private Optional<String> readRef(String key, String what) throws IOException {
        Optional<byte[]> bytes = objects.get(key);
        if (bytes.isEmpty()) {
            return Optional.empty();
        }
        String blob = JSON.readTree(bytes.get()).path("blob").asText();
        if (!Sha256.isHex(blob)) {
            throw new CorruptCheckpointException(what + " is corrupt");
        }
        return Optional.of(blob);
    }

    // ---- manifests

    /** Every model id with a base or a version in the store. */
    public List<String> models() throws IOException {
        Set<String> models = new TreeSet<>();
        for (ObjectStore.StoredObject object : objects.list(StoreKeys.MODELS)) {
            String rest = object.key().substring(StoreKeys.MODELS.length());
            models.add(rest.substring(0, rest.indexOf('/')));
        }
        return List.copyOf(models);
    }

    /** The version numbers of a model with a manifest, ascending. */
    public List<Long> versions(String modelId) throws IOException {
        List<Long> versions = new ArrayList<>();
        for (ObjectStore.StoredObject object : objects.list(StoreKeys.versions(modelId))) {
            long version = StoreKeys.versionOf(object.key());
            if (version > 0) {
                versions.add(version);
            }
        }
        versions.sort(null);
        return versions;
    }

    public Optional<Manifest> manifest(String modelId, long version) throws IOException {
        Optional<byte[]> bytes = objects.get(StoreKeys.manifest(modelId, version));
        if (bytes.isEmpty()) {
            return Optional.empty();
        }
        Manifest manifest = parse(bytes.get(), Manifest.class, "model " + modelId + " version " + version + " manifest");
        if (!manifest.modelId().equals(modelId) || manifest.version() != version) {
            throw new CorruptCheckpointException("the manifest stored as model " + modelId + " version " + version + " says it is model "
                    + manifest.modelId() + " version " + manifest.version());
        }
        return Optional.of(manifest);
    }

    Manifest requireManifest(String modelId, long version) throws IOException {
        return manifest(modelId, version).orElseThrow(
                () -> new CorruptCheckpointException("model " + modelId + " has no version " + version + " in the store"));
    }

    public String manifestUri(String modelId, long version) {
        return objects.uri(StoreKeys.manifest(modelId, version));
    }

    /**
     * Writes a manifest after checking that it fits the store: the base it names is the model's, its parent exists and
     * it keeps every tensor the parent had edited, every tensor it names is one of the base's stored tensors, and every
     * blob it references is present.
     */
    public Manifest writeManifest(Manifest manifest, WriteMode mode) throws IOException {
        String modelId = manifest.modelId();
        String context = "model " + modelId + " version " + manifest.version();
        BaseModel base = requireBase(modelId);
        if (!base.sha256().equals(manifest.baseSha256())) {
            throw new IllegalArgumentException(context + " names base " + manifest.baseSha256() + ", the model's base is " + base.sha256());
        }
        if (manifest.parentVersion() != null) {
            Manifest parent = manifest(modelId, manifest.parentVersion()).orElseThrow(() -> new CorruptCheckpointException(
                    context + " names parent version " + manifest.parentVersion() + ", which is not in the store (broken chain)"));
            if (!manifest.tensorSha256().keySet().containsAll(parent.tensorSha256().keySet())) {
                throw new IllegalArgumentException(context + " drops tensors its parent had edited: " + parent.tensorSha256().keySet());
            }
        }
        for (String tensor : manifest.tensorSha256().keySet()) {
            if (!base.tensors().containsKey(tensor)) {
                throw new IllegalArgumentException(context + " names tensor " + tensor + ", which the model (base " + base.sha256() + ") lacks");
            }
            if (!base.stored().containsKey(tensor)) {
                throw new IllegalArgumentException(context + " edits tensor " + tensor + ", whose base values are not stored (register them first)");
            }
        }
        for (String blob : manifest.blobs()) {
            if (!hasBlob(blob)) {
                throw new CorruptCheckpointException(context + " references blob " + blob + ", which is missing from the store");
            }
        }
        byte[] bytes = json(manifest);
        String key = StoreKeys.manifest(modelId, manifest.version());
        if (objects.putIfAbsent(key, bytes)) {
            return manifest;
        }
        byte[] existing = objects.get(key).orElse(new byte[0]);
        if (Arrays.equals(existing, bytes)) {
            return manifest;
        }
        if (mode == WriteMode.REPLACE_UNCOMMITTED) {
            log.warn("{}: replacing a manifest whose checkpoint never committed", context);
            objects.put(key, bytes);
            return manifest;
        }
        throw new ManifestConflictException(context + " already has a different manifest at " + objects.uri(key)
                + "; another writer published this version (replace it only if its checkpoint event never committed)");
    }

    // ---- reading versions

    /** Where materialisation starts. */
    public enum Start {
        /** The latest version at or before the target that stands alone (a snapshot or base-relative deltas), else the base. */
        NEAREST,
        /** The base, applying every version's deltas (ignores snapshots). */
        BASE
    }

    /** The model as it was before any edit (version 0), ready to append versions to. */
    public ModelHead head(String modelId) throws IOException {
        return new ModelHead(this, requireBase(modelId));
    }

    /**
     * Materialises a version of every edited tensor, checking every blob it reads and every resulting tensor's hash;
     * nothing half-applied is returned.
     */
    public ModelHead materialise(String modelId, long version, Start start) throws IOException {
        BaseModel base = requireBase(modelId);
        List<Manifest> chain = new ArrayList<>();
        Manifest current = requireManifest(modelId, version);
        chain.add(current);
        while (!(start == Start.NEAREST && current.standsAlone()) && current.parentVersion() != null) {
            long parent = current.parentVersion();
            Manifest previous = current;
            current = manifest(modelId, parent).orElseThrow(() -> new CorruptCheckpointException("model " + modelId + " version "
                    + previous.version() + " names parent version " + parent + ", which is not in the store (broken chain)"));
            chain.add(current);
        }
        ModelHead head = new ModelHead(this, base);
        Manifest first = chain.get(chain.size() - 1);
        if (start == Start.NEAREST && first.standsAlone()) {
            head.startAt(first);
        } else {
            head.applyDeltas(first);
        }
        for (int i = chain.size() - 2; i >= 0; i--) {
            head.applyDeltas(chain.get(i));
        }
        head.verifyAll();
        return head;
    }

    /** One version's result in {@link #verify}. */
    public record VersionCheck(long version, boolean ok, String problem) {
    }

    /**
     * Walks every version from the earliest kept one, applying each version's deltas and checking every blob, every
     * tensor hash after every version, and that each snapshot equals the chain; stops at the first bad version.
     */
    public List<VersionCheck> verify(String modelId) throws IOException {
        List<VersionCheck> checks = new ArrayList<>();
        List<Long> versions = versions(modelId);
        ModelHead head = null;
        for (long version : versions) {
            try {
                Manifest manifest = requireManifest(modelId, version);
                if (head == null || manifest.parentVersion() == null || manifest.parentVersion() != head.version()) {
                    head = materialise(modelId, version, Start.NEAREST);
                } else {
                    head.applyDeltas(manifest);
                    head.verifyAll();
                }
                head.verifySnapshots(manifest);
                checks.add(new VersionCheck(version, true, null));
            } catch (IOException | RuntimeException e) {
                checks.add(new VersionCheck(version, false, e.getMessage()));
                break;
            }
        }
        return checks;
    }

    // ---- garbage collection

    /**
     * @param blobGrace    an unreferenced blob younger than this is kept: its manifest may still be on its way
     * @param keepVersions versions to keep per model (0: all); older ones are pruned only down to the latest version at
     *                     or before the first kept one that stands alone, so every kept version still materialises
     */
    public record GcPolicy(Duration blobGrace, int keepVersions) {
        public GcPolicy {
            if (blobGrace.isNegative() || keepVersions < 0) {
                throw new IllegalArgumentException("a negative grace period or version count");
            }
        }
    }

    public record GcReport(Map<String, List<Long>> prunedVersions, int deletedBlobs, long deletedBytes, int keptBlobs) {
    }

    public GcReport collectGarbage(GcPolicy policy, Instant now) throws IOException {
        Map<String, List<Long>> pruned = new TreeMap<>();
        Set<String> referenced = new HashSet<>();
        for (String modelId : models()) {
            List<Long> versions = versions(modelId);
            List<Long> prunedHere = new ArrayList<>();
            if (policy.keepVersions() > 0 && versions.size() > policy.keepVersions()) {
                long firstKept = versions.get(versions.size() - policy.keepVersions());
                long floor = -1;
                for (long version : versions) {
                    if (version <= firstKept && requireManifest(modelId, version).standsAlone()) {
                        floor = version;
                    }
                }
                // an editor continues from the states of every version since the base (Editor#restore): a chain that
                // carries editor state is kept whole, or a restarted worker could not rebuild its editor
                long floorWithoutState = floor;
                for (long version : versions) {
                    if (version < floorWithoutState && requireManifest(modelId, version).editorState() != null) {
                        log.warn("model {}: versions before {} are kept although older than the newest {}: they carry the editor "
                                + "state a restarted worker rebuilds its editor from", modelId, floorWithoutState, policy.keepVersions());
                        floor = -1;
                        break;
                    }
                }
                for (long version : versions) {
                    if (version < floor) {
                        objects.delete(StoreKeys.manifest(modelId, version));
                        prunedHere.add(version);
                    }
                }
                if (!prunedHere.isEmpty()) {
                    log.info("model {}: pruned versions {}..{}, the chain now starts at version {}", modelId, prunedHere.get(0),
                            prunedHere.get(prunedHere.size() - 1), floor);
                }
            }
            pruned.put(modelId, prunedHere);
            for (long version : versions(modelId)) {
                referenced.addAll(requireManifest(modelId, version).blobs());
            }
            Optional<BaseModel> base = base(modelId);
            base.ifPresent(b -> referenced.addAll(b.stored().values()));
            for (ObjectStore.StoredObject ref : objects.list(StoreKeys.refs(modelId))) {
                String name = ref.key().substring(ref.key().lastIndexOf('/') + 1).replace(".json", "");
                ref(modelId, name).ifPresent(referenced::add);
            }
        }
        for (ObjectStore.StoredObject ref : objects.list(StoreKeys.DERIVED_REFS)) {
            String name = ref.key().substring(StoreKeys.DERIVED_REFS.length()).replace(".json", "");
            derived(name).ifPresent(referenced::add);
        }
        int deleted = 0;
        int kept = 0;
        long bytes = 0;
        Instant cutoff = now.minus(policy.blobGrace());
        for (ObjectStore.StoredObject object : objects.list(StoreKeys.BLOBS)) {
            String sha = StoreKeys.blobAddress(object.key());
            if (sha == null || referenced.contains(sha) || object.lastModified().isAfter(cutoff)) {
                kept++;
                continue;
            }
            objects.delete(object.key());
            deleted++;
            bytes += object.size();
        }
        log.info("garbage collection: deleted {} blobs ({} bytes), kept {}", deleted, bytes, kept);
        return new GcReport(pruned, deleted, bytes, kept);
    }

    // ---- accumulated change, for exports

    /**
     * The change of one tensor from the base to a version, as factors where the chain allows (every delta since the
     * base or the latest REBASE is LOW_RANK: the factors side by side) and as the dense difference otherwise.
     */
    public AccumulatedChange changeFromBase(String modelId, long version, String tensor) throws IOException {
        BaseModel base = requireBase(modelId);
        List<FloatMatrix> as = new ArrayList<>();
        List<FloatMatrix> bs = new ArrayList<>();
        Boolean transposed = null;
        long at = version;
        while (true) {
            Manifest manifest = requireManifest(modelId, at);
            Delta delta = manifest.deltas().get(tensor);
            String context = "model " + modelId + " version " + at + " tensor " + tensor;
            if (delta != null) {
                if (delta.kind() == Delta.Kind.SNAPSHOT || transposed != null && transposed != delta.transposed()) {
                    return dense(modelId, version, tensor, base);
                }
                Map<String, FloatMatrix> factors = tensors(delta.blob(), context);
                as.add(0, factors.get("a"));
                bs.add(0, factors.get("b"));
                transposed = delta.transposed();
                if (delta.kind() == Delta.Kind.REBASE) {
                    break;
                }
            }
            if (manifest.parentVersion() == null) {
                break;
            }
            if (manifest(modelId, manifest.parentVersion()).isEmpty()) {
                return dense(modelId, version, tensor, base); // pruned: the start is a snapshot
            }
            at = manifest.parentVersion();
        }
        if (as.isEmpty()) {
            throw new IllegalArgumentException("model " + modelId + " version " + version + " has not changed tensor " + tensor);
        }
        return new AccumulatedChange.Factors(FloatMatrix.concatColumns(as), FloatMatrix.concatColumns(bs), transposed);
    }

    private AccumulatedChange dense(String modelId, long version, String tensor, BaseModel base) throws IOException {
        FloatMatrix now = materialise(modelId, version, Start.NEAREST).tensor(tensor);
        FloatMatrix original = baseTensor(base, tensor);
        float[] difference = new float[now.data().length];
        for (int i = 0; i < difference.length; i++) {
            difference[i] = now.data()[i] - original.data()[i];
        }
        return new AccumulatedChange.Dense(new FloatMatrix(now.rows(), now.cols(), difference));
    }

    // ---- JSON

    static byte[] json(Object value) throws IOException {
        return (JSON.writeValueAsString(value) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    private static <T> T parse(byte[] bytes, Class<T> type, String what) throws CorruptCheckpointException {
        try {
            return JSON.readValue(bytes, type);
        } catch (IOException | RuntimeException e) {
            throw new CorruptCheckpointException(what + " is not readable: " + e.getMessage());
        }
    }

    @Override
    public void close() throws IOException {
        objects.close();
    }
}

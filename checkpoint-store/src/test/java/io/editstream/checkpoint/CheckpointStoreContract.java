package io.editstream.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.checkpoint.objects.ObjectStore;
import io.editstream.tensor.FloatMatrix;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What every backend of the checkpoint store must do; a subclass gives the object store. */
abstract class CheckpointStoreContract {

    static final String MODEL = "testbed-7";
    static final String LAYER0 = "model.layers.0.mlp.down_proj.weight";
    static final String LAYER1 = "model.layers.1.mlp.down_proj.weight";
    static final String NORM = "model.norm.weight";
    static final int OUT = 8;
    static final int IN = 24;
    static final String BASE_SHA = "b".repeat(64);
    static final Manifest.EditorInfo EDITOR = new Manifest.EditorInfo("nse+prune", "a".repeat(64), "PRUNE(alpha=e)");

    /** A fresh, empty object store; closed by the test. */
    abstract ObjectStore newObjectStore() throws IOException;

    CheckpointStore store;
    final Random random = new Random(7);
    SortedMap<String, FloatMatrix> base;

    @BeforeEach
    void openStore() throws IOException {
        store = new CheckpointStore(newObjectStore(), 5);
        base = new TreeMap<>(Map.of(LAYER0, matrix(OUT, IN), LAYER1, matrix(OUT, IN)));
        SortedMap<String, BaseModel.TensorInfo> tensors = new TreeMap<>();
        base.forEach((name, w) -> tensors.put(name, new BaseModel.TensorInfo(List.of((long) OUT, (long) IN), w.sha256())));
        tensors.put(NORM, new BaseModel.TensorInfo(List.of((long) OUT), "c".repeat(64)));
        store.registerBase(MODEL, BASE_SHA, "models/testbed", tensors, base);
    }

    @AfterEach
    void closeStore() throws IOException {
        store.close();
    }

    FloatMatrix matrix(int rows, int cols) {
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return new FloatMatrix(rows, cols, values);
    }

    TensorChange.Factored lowRank(int rank) {
        return TensorChange.lowRank(matrix(OUT, rank), matrix(IN, rank), false);
    }

    Manifest.SequenceRange batch(long version) {
        return new Manifest.SequenceRange(version, version);
    }

    /** Appends {@code count} LOW_RANK versions changing one or both layers; returns the expected tensors per version. */
    List<SortedMap<String, FloatMatrix>> appendVersions(ModelHead head, int count) throws IOException {
        List<SortedMap<String, FloatMatrix>> expected = new ArrayList<>();
        SortedMap<String, FloatMatrix> current = new TreeMap<>();
        for (int v = 1; v <= count; v++) {
            SortedMap<String, TensorChange> changes = new TreeMap<>();
            changes.put(LAYER0, lowRank(1 + v % 3));
            if (v % 2 == 0) {
                changes.put(LAYER1, lowRank(2));
            }
            for (Map.Entry<String, TensorChange> change : changes.entrySet()) {
                FloatMatrix start = current.getOrDefault(change.getKey(), base.get(change.getKey()));
                current.put(change.getKey(), change.getValue().applyTo(start));
            }
            head.append(batch(head.version() + 1), EDITOR, changes, null, WriteMode.CREATE);
            expected.add(new TreeMap<>(current));
        }
        return expected;
    }

    @Test
    void writesReadsBackAndVerifies() throws IOException {
        ModelHead head = store.head(MODEL);
        List<SortedMap<String, FloatMatrix>> expected = appendVersions(head, 7);
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L), store.versions(MODEL));
        for (int v = 1; v <= 7; v++) {
            for (CheckpointStore.Start start : CheckpointStore.Start.values()) {
                ModelHead read = store.materialise(MODEL, v, start);
                assertEquals(expected.get(v - 1), read.tensors(), "version " + v + " from " + start);
            }
        }
        Manifest fifth = store.manifest(MODEL, 5).orElseThrow();
        assertEquals(fifth.tensorSha256().keySet(), fifth.snapshots().keySet(), "every 5th version snapshots every edited tensor");
        assertTrue(store.manifest(MODEL, 4).orElseThrow().snapshots().isEmpty());
        assertEquals(4L, store.manifest(MODEL, 5).orElseThrow().parentVersion());
        assertTrue(store.verify(MODEL).stream().allMatch(CheckpointStore.VersionCheck::ok));
        assertTrue(store.manifestUri(MODEL, 3).endsWith("00000000000000000003.json"));
    }

    @Test
    void rewritingTheSameVersionIsANoOp() throws IOException {
        SortedMap<String, TensorChange> changes = new TreeMap<>(Map.of(LAYER0, lowRank(2)));
        Manifest first = store.head(MODEL).append(batch(1), EDITOR, changes, new byte[] {1, 2, 3}, WriteMode.CREATE);
        int objects = store.objects().list("").size();
        Manifest again = store.head(MODEL).append(batch(1), EDITOR, changes, new byte[] {1, 2, 3}, WriteMode.CREATE);
        assertEquals(first, again);
        assertEquals(objects, store.objects().list("").size());
    }

    @Test
    void aDifferentManifestForAWrittenVersionIsRefusedUnlessReplacingAnUncommittedOne() throws IOException {
        store.head(MODEL).append(batch(1), EDITOR, new TreeMap<>(Map.of(LAYER0, lowRank(1))), null, WriteMode.CREATE);
        SortedMap<String, TensorChange> other = new TreeMap<>(Map.of(LAYER0, lowRank(1)));
        ManifestConflictException conflict = assertThrows(ManifestConflictException.class,
                () -> store.head(MODEL).append(batch(1), EDITOR, other, null, WriteMode.CREATE));
        assertTrue(conflict.getMessage().contains("version 1 already has a different manifest"), conflict.getMessage());
        Manifest replaced = store.head(MODEL).append(batch(1), EDITOR, other, null, WriteMode.REPLACE_UNCOMMITTED);
        assertEquals(replaced, store.manifest(MODEL, 1).orElseThrow());
        assertEquals(other.get(LAYER0).applyTo(base.get(LAYER0)), store.materialise(MODEL, 1, CheckpointStore.Start.NEAREST).tensor(LAYER0));
    }

    @Test
    void ofTwoConcurrentWritersOfOneVersionExactlyOneWins() throws Exception {
        appendVersions(store.head(MODEL), 1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 2; round < 8; round++) {
                long version = round;
                CountDownLatch ready = new CountDownLatch(2);
                List<Future<Manifest>> writers = new ArrayList<>();
                List<TensorChange> changes = List.of(lowRank(1), lowRank(1));
                for (TensorChange change : changes) {
                    ModelHead head = store.materialise(MODEL, round - 1, CheckpointStore.Start.NEAREST);
                    Callable<Manifest> write = () -> {
                        ready.countDown();
                        ready.await();
                        return head.append(batch(version), EDITOR, new TreeMap<>(Map.of(LAYER0, change)), null, WriteMode.CREATE);
                    };
                    writers.add(pool.submit(write));
                }
                List<Manifest> won = new ArrayList<>();
                int lost = 0;
                for (Future<Manifest> writer : writers) {
                    try {
                        won.add(writer.get());
                    } catch (java.util.concurrent.ExecutionException e) {
                        assertTrue(e.getCause() instanceof ManifestConflictException, e.getCause().toString());
                        lost++;
                    }
                }
                assertEquals(1, won.size(), "round " + round);
                assertEquals(1, lost);
                assertEquals(won.get(0), store.manifest(MODEL, round).orElseThrow());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aBlobReadOutsideTheHeapIsItsBytesAndAFlippedOrMissingOneIsRefused() throws IOException {
        byte[] bytes = new byte[(3 << 20) + 17];
        new java.util.Random(5).nextBytes(bytes);
        String blob = store.putBlob(bytes);
        java.nio.ByteBuffer read = store.blobOffHeap(blob, "the test");
        assertTrue(read.isDirect());
        assertEquals(java.nio.ByteBuffer.wrap(bytes), read, "read in pieces of a megabyte, the bytes are the blob's");

        bytes[bytes.length - 3] ^= 0x01;
        store.objects().put(StoreKeys.blob(blob), bytes);
        CorruptCheckpointException flipped = assertThrows(CorruptCheckpointException.class, () -> store.blobOffHeap(blob, "the test"));
        assertTrue(flipped.getMessage().contains("the test: blob " + blob + " is corrupt"), flipped.getMessage());
        store.objects().delete(StoreKeys.blob(blob));
        CorruptCheckpointException missing = assertThrows(CorruptCheckpointException.class, () -> store.blobOffHeap(blob, "the test"));
        assertTrue(missing.getMessage().contains(blob + " is missing"), missing.getMessage());
    }

    @Test
    void aFlippedByteInABlobIsRefusedNamingTheBlobVersionAndTensor() throws IOException {
        appendVersions(store.head(MODEL), 3);
        String blob = store.manifest(MODEL, 2).orElseThrow().deltas().get(LAYER1).blob();
        byte[] bytes = store.objects().get(StoreKeys.blob(blob)).orElseThrow();
        bytes[bytes.length - 3] ^= 0x01;
        store.objects().put(StoreKeys.blob(blob), bytes);
        CorruptCheckpointException refused = assertThrows(CorruptCheckpointException.class,
                () -> store.materialise(MODEL, 3, CheckpointStore.Start.NEAREST));
        assertTrue(refused.getMessage().contains("version 2 tensor " + LAYER1), refused.getMessage());
        assertTrue(refused.getMessage().contains(blob + " is corrupt"), refused.getMessage());
        List<CheckpointStore.VersionCheck> checks = store.verify(MODEL);
        assertEquals(List.of(true, false), checks.stream().map(CheckpointStore.VersionCheck::ok).toList());
    }

    @Test
    void aMissingBlobIsRefused() throws IOException {
        appendVersions(store.head(MODEL), 2);
        String blob = store.manifest(MODEL, 1).orElseThrow().deltas().get(LAYER0).blob();
        store.objects().delete(StoreKeys.blob(blob));
        CorruptCheckpointException refused = assertThrows(CorruptCheckpointException.class,
                () -> store.materialise(MODEL, 2, CheckpointStore.Start.NEAREST));
        assertTrue(refused.getMessage().contains("version 1 tensor " + LAYER0 + ": blob " + blob + " is missing"), refused.getMessage());
    }

    @Test
    void aTamperedTensorHashIsRefusedWithBothHashes() throws IOException {
        appendVersions(store.head(MODEL), 2);
        Manifest second = store.manifest(MODEL, 2).orElseThrow();
        SortedMap<String, String> hashes = new TreeMap<>(second.tensorSha256());
        String actual = hashes.put(LAYER0, "d".repeat(64));
        store.objects().put(StoreKeys.manifest(MODEL, 2), CheckpointStore.json(new Manifest(Manifest.FORMAT_VERSION, MODEL, 2, 1L,
                BASE_SHA, second.sequence(), EDITOR, second.deltas(), second.snapshots(), hashes, null)));
        CorruptCheckpointException refused = assertThrows(CorruptCheckpointException.class,
                () -> store.materialise(MODEL, 2, CheckpointStore.Start.NEAREST));
        assertTrue(refused.getMessage().contains("version 2: tensor " + LAYER0), refused.getMessage());
        assertTrue(refused.getMessage().contains(actual) && refused.getMessage().contains("d".repeat(64)), refused.getMessage());
    }

    @Test
    void aBrokenParentChainIsRefused() throws IOException {
        appendVersions(store.head(MODEL), 3);
        store.objects().delete(StoreKeys.manifest(MODEL, 2));
        CorruptCheckpointException refused = assertThrows(CorruptCheckpointException.class,
                () -> store.materialise(MODEL, 3, CheckpointStore.Start.NEAREST));
        assertTrue(refused.getMessage().contains("version 3 names parent version 2, which is not in the store (broken chain)"),
                refused.getMessage());
        ModelHead atOne = store.materialise(MODEL, 1, CheckpointStore.Start.NEAREST);
        assertThrows(CorruptCheckpointException.class, () -> atOne.advanceTo(3));
    }

    @Test
    void aManifestNamingATensorTheModelLacksIsRefused() throws IOException {
        SortedMap<String, TensorChange> changes = new TreeMap<>(Map.of("model.layers.9.mlp.down_proj.weight", lowRank(1)));
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> store.head(MODEL).append(batch(1), EDITOR, changes, null, WriteMode.CREATE));
        assertTrue(refused.getMessage().contains("has no tensor named model.layers.9.mlp.down_proj.weight"), refused.getMessage());
        SortedMap<String, TensorChange> notEditable = new TreeMap<>(Map.of(NORM, lowRank(1)));
        assertThrows(IllegalArgumentException.class, () -> store.head(MODEL).append(batch(1), EDITOR, notEditable, null, WriteMode.CREATE));
        SortedMap<String, TensorChange> wrongShape = new TreeMap<>(Map.of(LAYER0,
                TensorChange.lowRank(matrix(IN, 1), matrix(OUT, 1), false)));
        assertThrows(IllegalArgumentException.class, () -> store.head(MODEL).append(batch(1), EDITOR, wrongShape, null, WriteMode.CREATE));
        assertTrue(store.versions(MODEL).isEmpty(), "nothing half-written");
    }

    @Test
    void namesThatWouldLeaveTheStoreAreRefused() {
        for (String model : List.of("../other", "a/b", "/abs", "..", "a..b", "")) {
            assertThrows(IllegalArgumentException.class, () -> store.head(model), model);
        }
        for (String tensor : List.of("../../etc/passwd", "a/b.weight", "/abs", "x\u0000y")) {
            SortedMap<String, TensorChange> changes = new TreeMap<>(Map.of(tensor, lowRank(1)));
            assertThrows(IllegalArgumentException.class,
                    () -> store.head(MODEL).append(batch(1), EDITOR, changes, null, WriteMode.CREATE), tensor);
        }
    }

    @Test
    void anotherBaseUnderTheSameModelIdIsRefused() {
        SortedMap<String, BaseModel.TensorInfo> tensors = new TreeMap<>();
        base.forEach((name, w) -> tensors.put(name, new BaseModel.TensorInfo(List.of((long) OUT, (long) IN), w.sha256())));
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> store.registerBase(MODEL, "e".repeat(64), "elsewhere", tensors, base));
        assertTrue(refused.getMessage().contains("is registered with base " + BASE_SHA), refused.getMessage());
    }

    @Test
    void rebaseAndFullDeltasMaterialiseFromTheBaseAndAlone() throws IOException {
        ModelHead head = store.head(MODEL);
        appendVersions(head, 3);
        FloatMatrix rebaseA = matrix(OUT, 2);
        FloatMatrix rebaseB = matrix(IN, 2);
        FloatMatrix full = matrix(OUT, IN);
        head.append(batch(4), EDITOR, new TreeMap<>(Map.of(LAYER0, TensorChange.rebase(rebaseA, rebaseB, false),
                LAYER1, new TensorChange.Full(full))), null, WriteMode.CREATE);
        assertTrue(store.manifest(MODEL, 4).orElseThrow().standsAlone());
        TensorChange.Factored after = lowRank(1);
        head.append(batch(5), EDITOR, new TreeMap<>(Map.of(LAYER0, after)), null, WriteMode.CREATE);
        FloatMatrix expected = after.applyTo(DeltaArithmetic.plusProduct(base.get(LAYER0), rebaseA, rebaseB, false));
        for (CheckpointStore.Start start : CheckpointStore.Start.values()) {
            ModelHead read = store.materialise(MODEL, 5, start);
            assertEquals(expected, read.tensor(LAYER0));
            assertEquals(full, read.tensor(LAYER1));
        }
        AccumulatedChange.Factors change = (AccumulatedChange.Factors) store.changeFromBase(MODEL, 5, LAYER0);
        assertEquals(3, change.a().cols(), "the REBASE's rank 2 and the later rank 1, nothing before the REBASE");
        assertTrue(store.changeFromBase(MODEL, 5, LAYER1) instanceof AccumulatedChange.Dense);
    }

    @Test
    void aSubscriberAdvancesVersionByVersion() throws IOException {
        ModelHead writer = store.head(MODEL);
        List<SortedMap<String, FloatMatrix>> expected = appendVersions(writer, 6);
        ModelHead reader = store.materialise(MODEL, 2, CheckpointStore.Start.NEAREST);
        reader.advanceTo(6);
        assertEquals(6, reader.version());
        assertEquals(expected.get(5), reader.tensors());
        assertThrows(IllegalArgumentException.class, () -> reader.advanceTo(3));
    }

    @Test
    void garbageCollectionKeepsWhatAChainNeedsAndDeletesTheRest() throws IOException {
        ModelHead head = store.head(MODEL);
        List<SortedMap<String, FloatMatrix>> expected = appendVersions(head, 12);
        store.putRef(MODEL, "c0", store.putTensors(new TreeMap<>(Map.of("c0", matrix(IN, IN)))));
        String orphan = store.putTensors(new TreeMap<>(Map.of("x", matrix(3, 3))));
        Instant now = Instant.now().plusSeconds(5);

        // within the grace period nothing is deleted; with all versions kept only the orphan goes
        CheckpointStore.GcReport graceful = store.collectGarbage(new CheckpointStore.GcPolicy(Duration.ofHours(1), 0), now);
        assertEquals(0, graceful.deletedBlobs());
        CheckpointStore.GcReport all = store.collectGarbage(new CheckpointStore.GcPolicy(Duration.ZERO, 0), now);
        assertEquals(1, all.deletedBlobs());
        assertFalse(store.objects().get(StoreKeys.blob(orphan)).isPresent());

        // keep 3 (10..12): the chain can only start at the snapshot of version 10, so 1..9 go
        CheckpointStore.GcReport pruned = store.collectGarbage(new CheckpointStore.GcPolicy(Duration.ZERO, 3), now);
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L), pruned.prunedVersions().get(MODEL));
        assertTrue(pruned.deletedBlobs() > 0);
        assertEquals(List.of(10L, 11L, 12L), store.versions(MODEL));
        for (int v = 10; v <= 12; v++) {
            assertEquals(expected.get(v - 1), store.materialise(MODEL, v, CheckpointStore.Start.NEAREST).tensors());
        }
        assertTrue(store.ref(MODEL, "c0").isPresent());
        store.blob(store.ref(MODEL, "c0").orElseThrow(), "c0");
        assertTrue(store.verify(MODEL).stream().allMatch(CheckpointStore.VersionCheck::ok));

        // keep 1 (12): the latest standing version at or before 12 is 10, so nothing more can go
        assertEquals(List.of(), store.collectGarbage(new CheckpointStore.GcPolicy(Duration.ZERO, 1), now).prunedVersions().get(MODEL));
    }

    @Test
    void garbageCollectionKeepsAChainWithEditorStateWholeAndDerivedBlobs() throws IOException {
        ModelHead head = store.head(MODEL);
        for (int v = 1; v <= 12; v++) {
            head.append(batch(v), EDITOR, new TreeMap<>(Map.of(LAYER0, lowRank(1))), new byte[] {(byte) v}, WriteMode.CREATE);
        }
        String derived = store.putTensors(new TreeMap<>(Map.of("c0", matrix(IN, IN))));
        store.putDerived("c0-" + "ab".repeat(32), derived);
        Instant now = Instant.now().plusSeconds(5);

        CheckpointStore.GcReport report = store.collectGarbage(new CheckpointStore.GcPolicy(Duration.ZERO, 3), now);
        assertEquals(List.of(), report.prunedVersions().get(MODEL), "a restarted editor needs every version's state since the base");
        assertEquals(12, store.versions(MODEL).size());
        for (int v = 1; v <= 12; v++) {
            assertArrayEquals(new byte[] {(byte) v}, store.blob(store.manifest(MODEL, v).orElseThrow().editorState(), "state"));
        }
        assertEquals(derived, store.derived("c0-" + "ab".repeat(32)).orElseThrow());
        store.blob(derived, "derived C0");
        assertThrows(IllegalArgumentException.class, () -> store.putDerived("../escape", derived));
    }

    @Test
    void blobsAreContentAddressedCanonicalSafetensors() throws IOException {
        FloatMatrix m = matrix(3, 4);
        String first = store.putTensors(new TreeMap<>(Map.of("a", m)));
        String second = store.putTensors(new TreeMap<>(Map.of("a", new FloatMatrix(3, 4, m.data().clone()))));
        assertEquals(first, second);
        assertNotEquals(first, store.putTensors(new TreeMap<>(Map.of("b", m))));
        assertArrayEquals(m.data(), store.tensors(first, "test").get("a").data());
    }
}

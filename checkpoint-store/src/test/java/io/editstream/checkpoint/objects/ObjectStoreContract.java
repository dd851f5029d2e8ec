package io.editstream.checkpoint.objects;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.editstream.checkpoint.objects.ObjectStore.StoredObject;

/** What every {@link ObjectStore} backend promises; each test gets a store of its own, empty. */
abstract class ObjectStoreContract {

    /** More than one page of a ListObjectsV2 answer (1,000 keys), so that listing has to follow continuations. */
    private static final int MANY = 1_100;

    protected ObjectStore store;

    /** A new, empty store; the test closes it. */
    protected abstract ObjectStore newStore() throws IOException;

    @BeforeEach
    void openStore() throws IOException {
        store = newStore();
    }

    @AfterEach
    void closeStore() throws IOException {
        if (store != null) {
            store.close();
        }
    }

    @Test
    void putThenGetReturnsTheSameBytes() throws IOException {
        byte[] bytes = {0, 1, 2, (byte) 0xff, 42};
        store.put("blobs/sha256/ab/cdef.safetensors", bytes);
        assertArrayEquals(bytes, store.get("blobs/sha256/ab/cdef.safetensors").orElseThrow());

        store.put("empty", new byte[0]);
        assertArrayEquals(new byte[0], store.get("empty").orElseThrow());
    }

    @Test
    void getOfAMissingKeyIsEmpty() throws IOException {
        assertTrue(store.get("missing").isEmpty());
        assertTrue(store.get("no/such/dir/missing.json").isEmpty());
    }

    @Test
    void putIfAbsentCreatesOnceAndKeepsTheFirstBytes() throws IOException {
        assertTrue(store.putIfAbsent("manifests/m/00000001.json", utf8("first")));
        assertFalse(store.putIfAbsent("manifests/m/00000001.json", utf8("second")));
        assertArrayEquals(utf8("first"), store.get("manifests/m/00000001.json").orElseThrow());

        store.put("manifests/m/00000002.json", utf8("replaceable"));
        assertFalse(store.putIfAbsent("manifests/m/00000002.json", utf8("other")));
        assertArrayEquals(utf8("replaceable"), store.get("manifests/m/00000002.json").orElseThrow());
    }

    @Test
    void putReplaces() throws IOException {
        assertTrue(store.putIfAbsent("head.json", utf8("one")));
        store.put("head.json", utf8("two"));
        assertArrayEquals(utf8("two"), store.get("head.json").orElseThrow());
        store.put("head.json", utf8("three, longer than before"));
        assertArrayEquals(utf8("three, longer than before"), store.get("head.json").orElseThrow());
    }

    @Test
    void listReturnsOnlyThePrefixInKeyOrderWithSizes() throws Exception {
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < MANY; i++) {
            expected.add(String.format("many/%05d", i));
        }
        expected.add("many/sub/nested.bin");
        // siblings that share the prefix's characters but not its segment, and one outside it
        List<String> others = List.of("many-more/x", "manyx", "other/y");
        putAll(expected);
        putAll(others);

        List<StoredObject> listed = store.list("many/");
        assertEquals(expected, listed.stream().map(StoredObject::key).toList());
        for (StoredObject object : listed) {
            assertEquals(object.key().length(), object.size(), object.key());
            assertTrue(object.lastModified() != null, object.key());
        }
        assertEquals(List.of("many/sub/nested.bin"), store.list("many/sub/").stream().map(StoredObject::key).toList());
        assertEquals(List.of(), store.list("absent/"));

        List<String> everything = new ArrayList<>(expected);
        everything.addAll(others);
        everything.sort(null);
        assertEquals(everything, store.list("").stream().map(StoredObject::key).toList());
    }

    @Test
    void deleteRemovesAndIsIdempotent() throws IOException {
        store.put("gc/victim", utf8("bytes"));
        store.put("gc/survivor", utf8("bytes"));
        store.delete("gc/victim");
        assertTrue(store.get("gc/victim").isEmpty());
        assertEquals(List.of("gc/survivor"), store.list("gc/").stream().map(StoredObject::key).toList());
        store.delete("gc/victim");
        store.delete("never/there");
        // a deleted key can be created again
        assertTrue(store.putIfAbsent("gc/victim", utf8("again")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "/abs", "a//b", "a/../b", "", "a/./b", "a/", "..", "a b", "a\\b", "a/b/.."})
    void unsafeKeysAreRefusedByEveryOperation(String key) {
        byte[] bytes = utf8("x");
        assertThrows(IllegalArgumentException.class, () -> store.put(key, bytes));
        assertThrows(IllegalArgumentException.class, () -> store.putIfAbsent(key, bytes));
        assertThrows(IllegalArgumentException.class, () -> store.get(key));
        assertThrows(IllegalArgumentException.class, () -> store.delete(key));
        assertThrows(IllegalArgumentException.class, () -> store.uri(key));
    }

    @ParameterizedTest
    @ValueSource(strings = {"../", "/abs/", "a//", "a/../", "a", "./"})
    void unsafePrefixesAreRefused(String prefix) {
        assertThrows(IllegalArgumentException.class, () -> store.list(prefix));
    }

    @Test
    void ofTwoRacingPutIfAbsentExactlyOneWinsAndItsBytesStay() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 20; round++) {
                String key = "race/" + round;
                CyclicBarrier start = new CyclicBarrier(2);
                List<Future<Boolean>> outcomes = new ArrayList<>();
                for (String writer : List.of("writer-a", "writer-b")) {
                    byte[] bytes = utf8(writer + " of round " + round);
                    Callable<Boolean> write = () -> {
                        start.await(10, TimeUnit.SECONDS);
                        return store.putIfAbsent(key, bytes);
                    };
                    outcomes.add(pool.submit(write));
                }
                boolean a = outcomes.get(0).get(30, TimeUnit.SECONDS);
                boolean b = outcomes.get(1).get(30, TimeUnit.SECONDS);
                assertTrue(a ^ b, "round " + round + ": a=" + a + " b=" + b);
                String winner = a ? "writer-a" : "writer-b";
                assertArrayEquals(utf8(winner + " of round " + round), store.get(key).orElseThrow(),
                        "round " + round);
            }
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
    }

    /** Writes each key with its own name as content, a few at a time so that a network backend stays quick. */
    private void putAll(List<String> keys) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> writes = new ArrayList<>();
            for (String key : keys) {
                writes.add(pool.submit(() -> {
                    store.put(key, utf8(key));
                    return null;
                }));
            }
            for (Future<?> write : writes) {
                write.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
    }

    protected static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}

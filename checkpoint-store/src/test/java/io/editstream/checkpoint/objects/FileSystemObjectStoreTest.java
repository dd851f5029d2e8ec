package io.editstream.checkpoint.objects;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSystemObjectStoreTest extends ObjectStoreContract {

    @TempDir
    Path root;

    @Override
    protected ObjectStore newStore() throws IOException {
        return new FileSystemObjectStore(root.resolve("store"));
    }

    @Test
    void uriIsTheFileUri() throws IOException {
        store.put("a/b.json", utf8("{}"));
        Path file = root.resolve("store/a/b.json").toRealPath();
        assertEquals(file.toUri().toString(), store.uri("a/b.json"));
    }

    @Test
    void writesLeaveNoTemporaryFiles() throws IOException {
        store.put("k", utf8("one"));
        store.put("k", utf8("two"));
        store.putIfAbsent("k", utf8("three"));
        store.putIfAbsent("j", utf8("four"));
        try (Stream<Path> files = Files.list(root.resolve("store"))) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith(FileSystemObjectStore.TEMP_PREFIX)));
        }
    }

    @Test
    void listingWhileAnotherThreadWritesSeesOnlyWholeObjects() throws Exception {
        AtomicReference<Throwable> writerFailed = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            try {
                for (int i = 0; i < 400; i++) {
                    store.putIfAbsent("models/m/versions/" + i + ".json", utf8("v" + i));
                    store.put("models/m/versions/" + i + ".json", utf8("w" + i));
                }
            } catch (IOException | RuntimeException e) {
                writerFailed.set(e);
            }
        });
        writer.start();
        int lists = 0;
        try {
            while (writer.isAlive()) {
                for (ObjectStore.StoredObject object : store.list("models/m/versions/")) {
                    assertTrue(object.key().endsWith(".json"), object.key());
                }
                lists++;
            }
        } finally {
            writer.join();
        }
        assertNull(writerFailed.get());
        assertEquals(400, store.list("models/").size());
        assertTrue(lists > 0);
    }
}

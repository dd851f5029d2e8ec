package io.editstream.checkpoint.objects;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
}

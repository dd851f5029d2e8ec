package io.editstream.checkpoint;

import io.editstream.checkpoint.objects.FileSystemObjectStore;
import io.editstream.checkpoint.objects.ObjectStore;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The checkpoint-store contract on the local file system (the embedded default). */
class FileSystemCheckpointStoreTest extends CheckpointStoreContract {

    @TempDir
    Path root;

    @Override
    ObjectStore newObjectStore() throws IOException {
        return new FileSystemObjectStore(root.resolve("store"));
    }
}

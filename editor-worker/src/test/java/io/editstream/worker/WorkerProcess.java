package io.editstream.worker;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.events.SerdeSettings;
import java.nio.file.Path;
import java.util.List;

/**
 * A worker in a JVM of its own, for a test to kill with SIGKILL: {@code BOOTSTRAP REGISTRY_API_URL STORE_DIR MODEL GROUP}.
 */
public final class WorkerProcess {

    private WorkerProcess() {
    }

    public static void main(String[] args) throws Exception {
        List<String> models = List.of(args[3]);
        try (CheckpointStore store = WorkerStack.openStore(Path.of(args[2]));
             EditorWorker worker = EditorWorker.start(args[0], SerdeSettings.apicurio(args[1]), store,
                     WorkerStack.settings(models, 2_000, args[4]), models)) {
            worker.awaitTermination(java.time.Duration.ofHours(1));
        }
    }
}

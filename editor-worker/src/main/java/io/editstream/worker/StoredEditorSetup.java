package io.editstream.worker;

import ai.djl.ndarray.NDManager;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.edit.EditHyperparameters;
import io.editstream.edit.EditorSetup;
import io.editstream.tensor.FloatMatrix;
import io.editstream.tensor.Sha256;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An editor's {@link EditorSetup} kept in the store, one blob per edit layer under a derived name that hashes the C0
 * blob, the editor and its hyperparameters: computed by the first worker that needs it, read back by every restart.
 * Reading 800 MB per layer of a 10,240-wide MLP takes seconds where inverting it takes minutes.
 */
final class StoredEditorSetup {

    private static final Logger log = LoggerFactory.getLogger(StoredEditorSetup.class);

    private StoredEditorSetup() {
    }

    static EditorSetup loadOrCompute(CheckpointStore store, String modelId, String editor, EditHyperparameters hyperparameters,
                                     String hyperparametersSha, StoredSecondMoments.Stored c0, NDManager manager) throws IOException {
        String key = Sha256.of((c0.blob() + "|" + editor.strip().toLowerCase(Locale.ROOT).replace("+prune", "") + "|"
                + hyperparametersSha + "|" + EditorSetup.FORMAT).getBytes(StandardCharsets.UTF_8));
        int dim = c0.c0().values().iterator().next().rows();
        Map<Integer, String> blobs = new LinkedHashMap<>();
        for (int layer : hyperparameters.layers()) {
            Optional<String> blob = store.derived(name(key, layer));
            if (blob.isEmpty()) {
                blobs = null;
                break;
            }
            blobs.put(layer, blob.get());
        }
        if (blobs != null) {
            long started = System.nanoTime();
            Map<Integer, String> stored = blobs;
            EditorSetup setup = EditorSetup.decode(dim, stored.keySet(),
                    layer -> store.blob(stored.get(layer), "model " + modelId + " editor setup of layer " + layer));
            log.info("model {}: editor setup of layers {} read from the store in {} ms", modelId, stored.keySet(),
                    (System.nanoTime() - started) / 1_000_000);
            return setup;
        }
        Map<Integer, FloatMatrix> moments = c0.c0();
        EditorSetup setup = EditorSetup.compute(editor, hyperparameters, moments, manager);
        for (int layer : hyperparameters.layers()) {
            String blob = store.putBlob(setup.encodeLayer(layer));
            store.putDerived(name(key, layer), blob);
        }
        log.info("model {}: editor setup of layers {} computed and stored", modelId, hyperparameters.layers());
        return setup;
    }

    private static String name(String key, int layer) {
        return "editor-setup-" + key + "-layer-" + layer;
    }
}

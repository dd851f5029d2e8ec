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

    /**
     * The setup of {@code editor} for the C0 in {@code c0Blob}: read from the store layer by layer as the editor takes
     * them, or computed (reading C0) and stored.
     */
    static EditorSetup loadOrCompute(CheckpointStore store, String modelId, String editor, EditHyperparameters hyperparameters,
                                     String hyperparametersSha, String c0Blob, int dim, NDManager manager) throws IOException {
        String key = Sha256.of((c0Blob + "|" + editor.strip().toLowerCase(Locale.ROOT).replace("+prune", "") + "|"
                + hyperparametersSha + "|" + EditorSetup.FORMAT).getBytes(StandardCharsets.UTF_8));
        Map<Integer, String> blobs = new LinkedHashMap<>();
        for (int layer : hyperparameters.layers()) {
            Optional<String> blob = store.derived(name(key, layer));
            if (blob.isEmpty()) {
                blobs = null;
                break;
            }
            blobs.put(layer, blob.get());
        }
        if (blobs == null) {
            Map<Integer, FloatMatrix> c0 = StoredSecondMoments.read(store, modelId, c0Blob, hyperparameters.layerArray());
            EditorSetup computed = EditorSetup.compute(editor, hyperparameters, c0, manager);
            blobs = new LinkedHashMap<>();
            for (int layer : hyperparameters.layers()) {
                String blob = store.putBlob(computed.encodeLayer(layer));
                store.putDerived(name(key, layer), blob);
                blobs.put(layer, blob);
            }
            log.info("model {}: editor setup of layers {} computed and stored", modelId, hyperparameters.layers());
        }
        Map<Integer, String> stored = blobs;
        return EditorSetup.of(dim, stored.keySet(),
                layer -> store.blobOffHeap(stored.get(layer), "model " + modelId + " editor setup of layer " + layer));
    }

    private static String name(String key, int layer) {
        return "editor-setup-" + key + "-layer-" + layer;
    }
}

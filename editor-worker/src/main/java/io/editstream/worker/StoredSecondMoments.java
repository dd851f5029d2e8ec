package io.editstream.worker;

import ai.djl.ndarray.NDManager;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.edit.SecondMomentStats;
import io.editstream.model.LanguageModel;
import io.editstream.tensor.FloatMatrix;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * C0 kept beside the base as the store's reference {@value #REF}: computed once per model id, then read back, so
 * a restarted worker (or another worker of the fleet) edits with exactly the C0 the chain was written with, even
 * where sampling the corpus or the arithmetic of computing it again would round differently.
 */
final class StoredSecondMoments {

    static final String REF = "c0";
    private static final Logger log = LoggerFactory.getLogger(StoredSecondMoments.class);
    /** Tokens per window of the C0 pass, as the benchmark and the tests use. */
    private static final int WINDOW = 64;

    private StoredSecondMoments() {
    }

    /** C0 per edit layer: the stored one, or computed from {@code corpus} and stored. */
    static Map<Integer, FloatMatrix> loadOrCompute(CheckpointStore store, String modelId, LanguageModel model, NDManager manager,
                                                   int[] layers, int samples, Supplier<String> corpus) throws IOException {
        Optional<String> stored = store.ref(modelId, REF);
        if (stored.isPresent()) {
            Map<String, FloatMatrix> tensors = store.tensors(stored.get(), "model " + modelId + " C0");
            Map<Integer, FloatMatrix> c0 = new LinkedHashMap<>();
            for (int layer : layers) {
                FloatMatrix matrix = tensors.get(name(layer));
                if (matrix == null) {
                    throw new IllegalStateException("model " + modelId + ": the stored C0 (blob " + stored.get() + ") has no layer " + layer
                            + " but the hyperparameters edit it: another editor configuration under the same model id needs another model id");
                }
                c0.put(layer, matrix);
            }
            log.info("model {}: C0 of layers {} read from the store (blob {})", modelId, c0.keySet(), stored.get());
            return c0;
        }
        Map<Integer, FloatMatrix> c0 = SecondMomentStats.compute(manager, model, layers, corpus.get(), samples, WINDOW);
        SortedMap<String, FloatMatrix> tensors = new TreeMap<>();
        c0.forEach((layer, matrix) -> tensors.put(name(layer), matrix));
        String blob = store.putTensors(tensors);
        store.putRef(modelId, REF, blob);
        log.info("model {}: C0 of layers {} computed and stored (blob {})", modelId, c0.keySet(), blob);
        return c0;
    }

    private static String name(int layer) {
        return "layer." + layer;
    }
}

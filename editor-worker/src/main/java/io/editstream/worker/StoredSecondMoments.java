package io.editstream.worker;

import ai.djl.ndarray.NDManager;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.edit.SecondMomentStats;
import io.editstream.model.LanguageModel;
import io.editstream.tensor.FloatMatrix;
import io.editstream.tensor.Sha256;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * C0 kept in the store. A model's chain is pinned to the C0 it was written with (the model's reference {@value #REF}):
 * a restarted worker, or another of the fleet, edits with exactly that C0 even where computing it again would round
 * differently. A new model finds a C0 computed for another model on the same base, corpus and settings under a
 * derived name, so a base's C0 is computed once per store (minutes at 200,000 keys of a 10,240-wide MLP).
 */
final class StoredSecondMoments {

    static final String REF = "c0";
    private static final Logger log = LoggerFactory.getLogger(StoredSecondMoments.class);
    /** Tokens per window of the C0 pass, as the benchmark and the tests use. */
    private static final int WINDOW = 64;

    private StoredSecondMoments() {
    }

    /** C0 per edit layer with the blob it is stored in. */
    record Stored(String blob, Map<Integer, FloatMatrix> c0) {
    }

    /** C0 per edit layer: the model's own, or one derived for the same base and settings, or computed and stored. */
    static Stored loadOrCompute(CheckpointStore store, String modelId, LanguageModel model, NDManager manager, int[] layers,
                                int samples, Supplier<String> corpus) throws IOException {
        Optional<Stored> pinned = pinned(store, modelId, layers);
        if (pinned.isPresent()) {
            return pinned.get();
        }
        String text = corpus.get();
        String name = "c0-" + SecondMomentStats.key(model.weightsSha256(), layers,
                Sha256.of(text.getBytes(StandardCharsets.UTF_8)), samples, WINDOW);
        Optional<String> derived = store.derived(name);
        Stored stored;
        if (derived.isPresent()) {
            log.info("model {}: C0 read from the store (blob {}, computed before for this base and corpus)", modelId, derived.get());
            stored = new Stored(derived.get(), read(store, modelId, derived.get(), layers));
        } else {
            Map<Integer, FloatMatrix> c0 = SecondMomentStats.compute(manager, model, layers, text, samples, WINDOW);
            SortedMap<String, FloatMatrix> tensors = new TreeMap<>();
            c0.forEach((layer, matrix) -> tensors.put(name(layer), matrix));
            String blob = store.putTensors(tensors);
            store.putDerived(name, blob);
            log.info("model {}: C0 of layers {} computed and stored (blob {})", modelId, c0.keySet(), blob);
            stored = new Stored(blob, c0);
        }
        store.putRef(modelId, REF, stored.blob());
        return stored;
    }

    /** The C0 the model's chain was written with; empty before its first worker computed or found one. */
    static Optional<Stored> pinned(CheckpointStore store, String modelId, int[] layers) throws IOException {
        Optional<String> pinned = store.ref(modelId, REF);
        if (pinned.isEmpty()) {
            return Optional.empty();
        }
        log.info("model {}: C0 read from the store (blob {}, the model's own)", modelId, pinned.get());
        return Optional.of(new Stored(pinned.get(), read(store, modelId, pinned.get(), layers)));
    }

    private static Map<Integer, FloatMatrix> read(CheckpointStore store, String modelId, String blob, int[] layers) throws IOException {
        Map<String, FloatMatrix> tensors = store.tensors(blob, "model " + modelId + " C0");
        Map<Integer, FloatMatrix> c0 = new LinkedHashMap<>();
        for (int layer : layers) {
            FloatMatrix matrix = tensors.get(name(layer));
            if (matrix == null) {
                throw new IllegalStateException("model " + modelId + ": the stored C0 (blob " + blob + ") has no layer " + layer
                        + " but the hyperparameters edit it: another editor configuration under the same model id needs another model id");
            }
            c0.put(layer, matrix);
        }
        return c0;
    }

    private static String name(int layer) {
        return "layer." + layer;
    }
}

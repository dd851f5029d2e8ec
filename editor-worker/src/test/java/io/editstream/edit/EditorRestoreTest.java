package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;
import io.editstream.tensor.Safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** An editor restored from another's batch states continues bit for bit where the other stands, on stories260K. */
class EditorRestoreTest {

    /** Four batches of sizes 1, 2, 1 and 3, all of distinct facts. */
    private static final List<List<EditRequest>> HISTORY = List.of(
            List.of(EditRequest.of("Sue was very", "Sue", "sad", "excited")),
            List.of(EditRequest.of("Lily likes to eat", "Lily", "soup", "cookies"),
                    EditRequest.of("Tom likes to play with his", "Tom", "dog", "toys")),
            List.of(EditRequest.of("Ben went to the", "Ben", "store", "park")),
            List.of(EditRequest.of("Mia had a big red", "Mia", "car", "ball"),
                    EditRequest.of("Max saw a little", "Max", "fish", "bird"),
                    EditRequest.of("Anna gave her mom a", "Anna", "flower", "hug")));
    private static final List<EditRequest> NEXT = List.of(
            EditRequest.of("Sam found a shiny", "Sam", "key", "rock"),
            EditRequest.of("Lucy drew a big", "Lucy", "sun", "tree"));
    private static final long SEED = 3;
    private static final int TOTALS_EVERY = 3;

    @RegisterExtension
    static final StoriesEditing stories = new StoriesEditing();

    /** What B ends with after the next batch, to compare with the editor that ran the history itself. */
    private record Continued(List<LowRankDelta> deltas, Map<Integer, FloatMatrix> weights) {
    }

    @ParameterizedTest
    @ValueSource(strings = {"nse", "memit+prune", "nse+prune"})
    void restoredEditorContinuesBitForBitAndOneThatForgotTheHistoryDoesNot(String algorithm) throws IOException {
        try (NDManager scope = stories.manager().newSubManager();
             LanguageModel model = Stories.load();
             // PRUNE's totals after the third batch: the restore starts from them and replays the fourth batch's change
             Editor editor = new SequentialEditor(algorithm, SequentialEditor.algorithm(algorithm), algorithm.endsWith("+prune"), model,
                     Stories.HYPERPARAMETERS, EditorSetup.compute(algorithm, Stories.HYPERPARAMETERS, stories.c0(), scope),
                     scope, SEED, TOTALS_EVERY)) {
            List<BatchState> states = new ArrayList<>();
            for (List<EditRequest> batch : HISTORY) {
                byte[] stored = editor.apply(batch).state().encode();
                BatchState state = BatchState.decode(stored);
                assertArrayEquals(stored, state.encode(), "decoding and encoding again gives the same bytes");
                states.add(state);
            }
            assertEquals(algorithm.endsWith("+prune"), !states.get(0).pruneChanges().isEmpty());
            for (int i = 0; i < states.size(); i++) {
                assertEquals(algorithm.endsWith("+prune") && (i + 1) % TOTALS_EVERY == 0, !states.get(i).pruneTotals().isEmpty(), "totals of batch " + i);
            }
            Map<Integer, FloatMatrix> published = editLayerWeights(model, scope);

            Continued restored = nextBatchOnPublishedWeights(algorithm, states, published, scope);
            Continued forgetful = nextBatchOnPublishedWeights(algorithm, List.of(), published, scope);
            List<LowRankDelta> expected = editor.apply(NEXT).deltas();
            Map<Integer, FloatMatrix> expectedWeights = editLayerWeights(model, scope);

            assertEquals(expected, restored.deltas(), "the restored editor's deltas are bit-identical");
            assertEquals(expectedWeights, restored.weights(), "and so are the weights they leave");
            assertNotEquals(expected, forgetful.deltas(), "an editor that never saw the history edits differently");
            assertNotEquals(expectedWeights, forgetful.weights());
        }
    }

    @Test
    void restoreIsRefusedOnceTheEditorAppliedOrRestoredAnything() {
        try (NDManager scope = stories.manager().newSubManager();
             LanguageModel model = Stories.load();
             Editor restored = Editor.create("memit", model, Stories.HYPERPARAMETERS, stories.c0(), scope, SEED);
             Editor applied = Editor.create("memit", model, Stories.HYPERPARAMETERS, stories.c0(), scope, SEED)) {
            BatchState state = applied.apply(HISTORY.get(0)).state();
            assertThrows(IllegalStateException.class, () -> applied.restore(List.of(state)));
            restored.restore(List.of(state));
            assertThrows(IllegalStateException.class, () -> restored.restore(List.of(state)), "a second restore would count the keys twice");
        }
    }

    @Test
    void restoreRefusesTheStateOfAnotherKindOfEditor() {
        int mlpDim = stories.c0().get(1).rows();
        SortedMap<Integer, List<FloatMatrix>> keys = new TreeMap<>();
        keys.put(1, List.of(FloatMatrix.zeros(mlpDim, 1)));
        keys.put(2, List.of(FloatMatrix.zeros(mlpDim, 1)));
        BatchState withoutPrune = new BatchState(keys, new TreeMap<>());
        BatchState otherLayers = new BatchState(new TreeMap<>(Map.of(1, List.of(FloatMatrix.zeros(mlpDim, 1)))), new TreeMap<>());
        BatchState otherWidth = new BatchState(new TreeMap<>(Map.of(1, List.of(FloatMatrix.zeros(mlpDim + 1, 1)),
                2, List.of(FloatMatrix.zeros(mlpDim + 1, 1)))), new TreeMap<>());
        try (NDManager scope = stories.manager().newSubManager();
             LanguageModel model = Stories.load();
             Editor pruned = Editor.create("memit+prune", model, Stories.HYPERPARAMETERS, stories.c0(), scope, SEED);
             Editor plain = Editor.create("memit", model, Stories.HYPERPARAMETERS, stories.c0(), scope, SEED)) {
            assertThrows(IllegalArgumentException.class, () -> pruned.restore(List.of(withoutPrune)));
            assertThrows(IllegalArgumentException.class, () -> plain.restore(List.of(otherLayers)));
            assertThrows(IllegalArgumentException.class, () -> plain.restore(List.of(withoutPrune, otherWidth)));
            plain.restore(List.of(withoutPrune));
        }
    }

    @Test
    void equalStatesEncodeToEqualBytesAndEveryBitSurvivesTheRoundTrip() throws IOException {
        float[] awkward = {-0.0f, Float.MIN_VALUE, Float.MAX_VALUE, 1e-40f, -3.25f, 0.1f};
        BatchState state = state(awkward);
        byte[] bytes = state.encode();
        assertArrayEquals(bytes, state(awkward.clone()).encode(), "equal states, equal bytes");
        BatchState decoded = BatchState.decode(bytes);
        assertEquals(state, decoded);
        float[] back = decoded.keys().get(10).get(1).data();
        for (int i = 0; i < awkward.length; i++) {
            assertEquals(Float.floatToRawIntBits(awkward[i]), Float.floatToRawIntBits(back[i]), "value " + i);
        }
    }

    @Test
    void decodeRefusesOtherFormatsAndDamagedBlobs() {
        byte[] good = state(new float[] {1, 2, 3, 4, 5, 6}).encode();
        SortedMap<String, FloatMatrix> tensors = new TreeMap<>(Map.of("keys.1.0", FloatMatrix.zeros(2, 1)));
        // the first format's PRUNE changes were restrained again at every edit: its chains are not this restraint's
        refused(Safetensors.encode(tensors, Map.of("format", "editstream.batch-state/1")), "format");
        refused(Safetensors.encode(tensors, Map.of()), "format");
        refused(Safetensors.encode(new TreeMap<>(Map.of("keys.1.1", FloatMatrix.zeros(2, 1))), Map.of("format", BatchState.FORMAT)), "key blocks");
        refused(Safetensors.encode(new TreeMap<>(Map.of("keys.01.0", FloatMatrix.zeros(2, 1))), Map.of("format", BatchState.FORMAT)), "unexpected tensor");
        refused(Safetensors.encode(new TreeMap<>(Map.of("prune.1.a", FloatMatrix.zeros(2, 1))), Map.of("format", BatchState.FORMAT)), "factors");
        refused(Safetensors.encode(new TreeMap<>(Map.of("keys.1.0", FloatMatrix.zeros(2, 1), "prune_excess.1.a", FloatMatrix.zeros(2, 1),
                "prune_excess.1.b", FloatMatrix.zeros(3, 1))), Map.of("format", BatchState.FORMAT)), "without their raw accumulation");
        refused(Arrays.copyOf(good, good.length - 4), "");
        byte[] header = good.clone();
        header[9] = '[';
        refused(header, "header");
        refused(new byte[] {1, 2, 3}, "truncated");
    }

    private static void refused(byte[] bytes, String because) {
        IOException e = assertThrows(IOException.class, () -> BatchState.decode(bytes));
        assertTrue(e.getMessage().contains(because), e.getMessage());
    }

    /** Two key blocks of layer 10 and one of layer 9, and a PRUNE change of layer 9: names sort 10 before 9. */
    private static BatchState state(float[] values) {
        SortedMap<Integer, List<FloatMatrix>> keys = new TreeMap<>();
        keys.put(9, List.of(new FloatMatrix(3, 2, values)));
        keys.put(10, List.of(new FloatMatrix(2, 3, values), new FloatMatrix(6, 1, values)));
        SortedMap<Integer, LowRankDelta> prune = new TreeMap<>();
        prune.put(9, new LowRankDelta(9, new FloatMatrix(2, 3, values), new FloatMatrix(2, 3, values)));
        return new BatchState(keys, prune);
    }

    private static Continued nextBatchOnPublishedWeights(String algorithm, List<BatchState> history,
                                                         Map<Integer, FloatMatrix> published, NDManager scope) {
        try (LanguageModel model = Stories.load();
             Editor editor = Editor.create(algorithm, model, Stories.HYPERPARAMETERS, stories.c0(), scope, SEED)) {
            editor.restore(history);
            try (NDManager load = scope.newSubManager()) {
                published.forEach((layer, weight) -> model.setMlpOutputWeight(layer, weight.toNDArray(load)));
            }
            List<LowRankDelta> deltas = editor.apply(NEXT).deltas();
            return new Continued(deltas, editLayerWeights(model, scope));
        }
    }

    private static Map<Integer, FloatMatrix> editLayerWeights(LanguageModel model, NDManager scope) {
        Map<Integer, FloatMatrix> weights = new TreeMap<>();
        try (NDManager read = scope.newSubManager()) {
            for (int layer : Stories.HYPERPARAMETERS.layers()) {
                weights.put(layer, FloatMatrix.of(model.mlpOutputWeight(read, layer)));
            }
        }
        return weights;
    }
}

package io.editstream.edit;


import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An editor created from a stored {@link EditorSetup} is the editor that computed it: the setup survives its encoding
 * bit for bit, and both editors give bit-identical deltas over several batches, on stories260K.
 */
class EditorSetupTest {

    private static final List<List<EditRequest>> BATCHES = List.of(
            List.of(EditRequest.of("Sue was very", "Sue", "sad", "excited")),
            List.of(EditRequest.of("Lily likes to eat", "Lily", "soup", "cookies"),
                    EditRequest.of("Tom likes to play with his", "Tom", "dog", "toys")),
            List.of(EditRequest.of("Ben went to the", "Ben", "store", "park")));

    @RegisterExtension
    static final StoriesEditing stories = new StoriesEditing();

    @ParameterizedTest
    @ValueSource(strings = {"memit", "nse+prune", "alphaedit"})
    void anEditorFromTheStoredSetupEditsBitForBitAsOneThatComputedIt(String algorithm) throws IOException {
        try (NDManager scope = stories.manager().newSubManager()) {
            EditorSetup computed = EditorSetup.compute(algorithm, Stories.HYPERPARAMETERS, stories.c0(), scope);
            Map<Integer, byte[]> layers = new LinkedHashMap<>();
            for (int layer : Stories.HYPERPARAMETERS.layers()) {
                layers.put(layer, computed.encodeLayer(layer));
            }
            EditorSetup stored = EditorSetup.decode(stories.c0().values().iterator().next().rows(), layers);
            for (int layer : Stories.HYPERPARAMETERS.layers()) {
                assertArrayEquals(computed.inverses().get(layer), stored.inverses().get(layer));
                assertArrayEquals(layers.get(layer), stored.encodeLayer(layer), "encoding again gives the same bytes");
            }
            assertEquals(algorithm.equals("alphaedit"), !stored.projectors().isEmpty());

            try (LanguageModel first = Stories.load();
                 LanguageModel second = Stories.load();
                 Editor computing = Editor.create(algorithm, first, Stories.HYPERPARAMETERS, stories.c0(), scope, 1);
                 Editor fromStore = Editor.create(algorithm, second, Stories.HYPERPARAMETERS, stories.c0(), stored, scope, 1)) {
                for (List<EditRequest> batch : BATCHES) {
                    assertEquals(computing.apply(batch).deltas(), fromStore.apply(batch).deltas());
                }
            }
        }
    }

    @Test
    void aSetupForAnotherAlgorithmLayerOrFormatIsRefused() throws IOException {
        try (NDManager scope = stories.manager().newSubManager();
             LanguageModel model = Stories.load()) {
            EditorSetup memit = EditorSetup.compute("memit", Stories.HYPERPARAMETERS, stories.c0(), scope);
            IllegalArgumentException wrongAlgorithm = assertThrows(IllegalArgumentException.class,
                    () -> Editor.create("alphaedit", model, Stories.HYPERPARAMETERS, stories.c0(), memit, scope, 1));
            assertTrue(wrongAlgorithm.getMessage().contains("does not fit ALPHAEDIT"), wrongAlgorithm.getMessage());

            int layer = Stories.HYPERPARAMETERS.layers().get(0);
            int dim = stories.c0().get(layer).rows();
            byte[] encoded = memit.encodeLayer(layer);
            IOException otherLayer = assertThrows(IOException.class, () -> EditorSetup.decode(dim, Map.of(layer + 1, encoded)));
            assertTrue(otherLayer.getMessage().contains("expected format"), otherLayer.getMessage());
            IOException otherWidth = assertThrows(IOException.class, () -> EditorSetup.decode(dim + 1, Map.of(layer, encoded)));
            assertTrue(otherWidth.getMessage().contains("expected F64"), otherWidth.getMessage());
        }
    }
}

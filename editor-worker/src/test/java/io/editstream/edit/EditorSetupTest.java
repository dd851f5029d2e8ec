package io.editstream.edit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
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
    @ValueSource(strings = {"memit", "nse+prune", "alphaedit", "nse on half the neurons"})
    void anEditorFromTheStoredSetupEditsBitForBitAsOneThatComputedIt(String editor, @TempDir Path dir) throws IOException {
        String algorithm = editor.split(" ")[0];
        EditHyperparameters hyperparameters = editor.contains("half") ? halfTheNeurons(dir) : Stories.HYPERPARAMETERS;
        try (NDManager scope = stories.manager().newSubManager()) {
            EditorSetup computed = EditorSetup.compute(algorithm, hyperparameters, stories.c0(), scope);
            Map<Integer, byte[]> layers = new LinkedHashMap<>();
            for (int layer : hyperparameters.layers()) {
                layers.put(layer, computed.encodeLayer(layer));
            }
            // as the store hands them over: outside the heap, where the arrays take the bytes as their memory
            EditorSetup stored = EditorSetup.of(computed.dim(), layers.keySet(), layer -> offHeap(layers.get(layer)));
            for (int layer : hyperparameters.layers()) {
                assertArrayEquals(layers.get(layer), stored.encodeLayer(layer), "the stored bytes are the computed ones");
            }

            try (LanguageModel first = Stories.load();
                 LanguageModel second = Stories.load();
                 Editor computing = Editor.create(algorithm, first, hyperparameters, stories.c0(), scope, 1);
                 Editor fromStore = Editor.create(algorithm, second, hyperparameters, stored, scope, 1)) {
                for (List<EditRequest> batch : BATCHES) {
                    assertEquals(computing.apply(batch).deltas(), fromStore.apply(batch).deltas());
                }
            }
        }
    }

    @Test
    void aSetupForAnotherAlgorithmLayerOrFormatIsRefused(@TempDir Path dir) throws IOException {
        try (NDManager scope = stories.manager().newSubManager();
             LanguageModel model = Stories.load()) {
            EditorSetup memit = EditorSetup.compute("memit", Stories.HYPERPARAMETERS, stories.c0(), scope);
            assertRefused(() -> Editor.create("alphaedit", model, Stories.HYPERPARAMETERS, memit, scope, 1),
                    "which is not the setup of ALPHAEDIT");
            assertRefused(() -> Editor.create("nse", model, halfTheNeurons(dir), memit, scope, 1),
                    "which is not the setup of NSE on a neuron subset");

            int layer = Stories.HYPERPARAMETERS.layers().get(0);
            byte[] encoded = memit.encodeLayer(layer);
            EditHyperparameters oneLayer = onLayers(dir, List.of(layer + 1));
            assertRefused(() -> Editor.create("memit", model, oneLayer,
                    EditorSetup.of(memit.dim(), List.of(layer + 1), l -> ByteBuffer.wrap(encoded)), scope, 1), "expected format");
            IllegalArgumentException otherWidth = assertThrows(IllegalArgumentException.class, () -> Editor.create("memit", model,
                    Stories.HYPERPARAMETERS, EditorSetup.of(memit.dim() + 1, Stories.HYPERPARAMETERS.layers(), l -> ByteBuffer.wrap(memit.encodeLayer(l))), scope, 1));
            assertTrue(otherWidth.getMessage().contains("does not fit MEMIT"), otherWidth.getMessage());
        }
    }

    private static void assertRefused(Executable create, String expected) {
        UncheckedIOException refused = assertThrows(UncheckedIOException.class, create);
        assertTrue(refused.getMessage().contains(expected), refused.getMessage());
    }

    private static ByteBuffer offHeap(byte[] bytes) {
        return ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
    }

    private static EditHyperparameters halfTheNeurons(Path dir) throws IOException {
        return edited(dir, json -> ((ObjectNode) json.get("nse")).put("neuronFraction", 0.5));
    }

    private static EditHyperparameters onLayers(Path dir, List<Integer> layers) throws IOException {
        return edited(dir, json -> json.putArray("layers").addAll(layers.stream().map(IntNode::valueOf).toList()));
    }

    /** The stories hyperparameters with one change, through their JSON as a user would make it. */
    private static EditHyperparameters edited(Path dir, Consumer<ObjectNode> change) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode tree = json.valueToTree(Stories.HYPERPARAMETERS);
        change.accept(tree);
        Path file = Files.createTempFile(dir, "hyperparameters", ".json");
        json.writeValue(file.toFile(), tree);
        return EditHyperparameters.load(file.toString());
    }
}

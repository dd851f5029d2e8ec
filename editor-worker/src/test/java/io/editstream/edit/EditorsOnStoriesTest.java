package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.editstream.eval.ContinuationScorer;
import io.editstream.eval.Locality;
import io.editstream.model.LanguageModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Real edits of the real stories260K model with every editor. */
class EditorsOnStoriesTest {

    private static final EditRequest SUE_WAS_SAD = EditRequest.of("Sue was very", "Sue", "sad", "excited");
    private static final EditRequest LILY_EATS_SOUP = EditRequest.of("Lily likes to eat", "Lily", "soup", "cookies");
    private static final EditRequest TOM_PLAYS_WITH_DOG = EditRequest.of("Tom likes to play with his", "Tom", "dog", "toys");
    private static final List<String> UNRELATED =
            List.of("Once upon a time", "The cat sat on the", "The sun was", "The bird", "It was a", "The little boy");

    @RegisterExtension
    static final StoriesEditing stories = new StoriesEditing();

    @ParameterizedTest
    @ValueSource(strings = {"memit", "nse", "alphaedit", "nse+prune", "memit+prune"})
    void oneEditMakesTheTargetTopOneKeepsUnrelatedPromptsAndReturnsExactFactors(String algorithm) {
        try (LanguageModel model = Stories.load(); NDManager scope = stories.manager().newSubManager()) {
            ContinuationScorer scorer = new ContinuationScorer(model, scope);
            ContinuationScorer.Query query = new ContinuationScorer.Query(SUE_WAS_SAD.filledPrompt(), SUE_WAS_SAD.targetNew());
            assertTrue(scorer.score(query).accuracy() < 1, "the unedited model does not already say it");
            int[] unrelatedBefore = Locality.topOne(model, scope, UNRELATED);
            Map<Integer, FloatMatrix> before = mlpWeights(model, scope);

            Editor.EditResult result;
            try (Editor editor = Editor.create(algorithm, model, Stories.HYPERPARAMETERS, stories.c0(), scope, 1)) {
                result = editor.apply(List.of(SUE_WAS_SAD));
            }

            assertEquals(1.0, scorer.score(query).accuracy(), "every token of the target is the top-1 continuation");
            String greedy = new TextSampler(model, 1).continueAll(scope, List.of(SUE_WAS_SAD.filledPrompt()), 2, 0).get(0);
            assertTrue(greedy.startsWith("Sue was very sad"), greedy);
            assertArrayEquals(unrelatedBefore, Locality.topOne(model, scope, UNRELATED), "unrelated prompts keep their top-1");

            Map<Integer, FloatMatrix> after = mlpWeights(model, scope);
            Map<Integer, LowRankDelta> byLayer = new HashMap<>();
            result.deltas().forEach(delta -> byLayer.put(delta.layer(), delta));
            assertEquals(Stories.HYPERPARAMETERS.layers().stream().sorted().toList(), byLayer.keySet().stream().sorted().toList());
            for (int layer = 0; layer < model.config().layers(); layer++) {
                LowRankDelta delta = byLayer.get(layer);
                if (delta == null) {
                    assertEquals(before.get(layer), after.get(layer), "layer " + layer + " is untouched");
                    continue;
                }
                assertTrue(delta.rank() <= 4, "rank " + delta.rank() + " for one edit");
                float[] product = FloatMatrix.of(delta.dense(scope)).data();
                float[] w0 = before.get(layer).data();
                float[] w1 = after.get(layer).data();
                double largest = 0;
                for (int i = 0; i < product.length; i++) {
                    assertEquals(w1[i] - w0[i], product[i], 1e-5, "layer " + layer + " entry " + i);
                    largest = Math.max(largest, Math.abs(product[i]));
                }
                assertTrue(largest > 1e-3, "layer " + layer + " really changed");
            }
        }
    }

    @Test
    void sameEditsAndSeedGiveBitIdenticalWeights() {
        String[] hashes = new String[2];
        List<List<LowRankDelta>> deltas = new ArrayList<>();
        for (int run = 0; run < 2; run++) {
            try (LanguageModel model = Stories.load(); NDManager scope = stories.manager().newSubManager();
                 Editor editor = Editor.create("nse+prune", model, Stories.HYPERPARAMETERS, stories.c0(), scope, 7)) {
                String original = model.weightsSha256();
                List<LowRankDelta> all = new ArrayList<>(editor.apply(List.of(LILY_EATS_SOUP)).deltas());
                int arraysAfterFirst = scope.getManagedArrays().size();
                all.addAll(editor.apply(List.of(TOM_PLAYS_WITH_DOG)).deltas());
                assertEquals(arraysAfterFirst, scope.getManagedArrays().size(), "an edit leaves no arrays behind");
                hashes[run] = model.weightsSha256();
                assertNotEquals(original, hashes[run]);
                deltas.add(all);
            }
        }
        assertEquals(hashes[0], hashes[1]);
        assertEquals(deltas.get(0), deltas.get(1), "the published factors are bit-identical too");
        assertFalse(deltas.get(0).isEmpty());
    }

    private static Map<Integer, FloatMatrix> mlpWeights(LanguageModel model, NDManager scope) {
        Map<Integer, FloatMatrix> weights = new HashMap<>();
        for (int layer = 0; layer < model.config().layers(); layer++) {
            weights.put(layer, FloatMatrix.of(model.mlpOutputWeight(scope, layer)));
        }
        return weights;
    }
}

package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Requests an editor cannot apply on stories260K are refused, and a refused batch leaves the model as it was. */
class EditRejectionTest {

    private static final EditRequest SUE_WAS_SAD = EditRequest.of("Sue was very", "Sue", "sad", "excited");
    /** About 780 tokens of prompt: more than the 512 positions stories260K reads. */
    private static final EditRequest TOO_LONG =
            EditRequest.of("Once upon a time, there was a little girl. ".repeat(60) + "Sue was very", "Sue", "sad", "excited");
    /** "Lil" is cut inside "Lily", which the tokenizer reads as one piece: no token ends where the subject does. */
    private static final EditRequest CUT_SUBJECT = EditRequest.of("Lily likes to eat", "Lil", "soup", "cookies");

    @RegisterExtension
    static final StoriesEditing stories = new StoriesEditing();

    @Test
    void checkNamesWhatTheEditorCannotReadAndApplyRefusesItBeforeAnythingChanges() {
        try (NDManager scope = stories.manager().newSubManager();
             LanguageModel model = Stories.load();
             Editor editor = Editor.create("nse", model, Stories.HYPERPARAMETERS, stories.c0(), scope, 1)) {
            assertEquals(Optional.empty(), editor.check(SUE_WAS_SAD));
            String tooLong = editor.check(TOO_LONG).orElseThrow();
            assertTrue(tooLong.contains("512"), tooLong);
            String cut = editor.check(CUT_SUBJECT).orElseThrow();
            assertTrue(cut.contains("'Lil'"), cut);

            String original = model.weightsSha256();
            EditRejectedException rejected = assertThrows(EditRejectedException.class, () -> editor.apply(List.of(SUE_WAS_SAD, TOO_LONG)));
            assertEquals(1, rejected.requestIndex());
            assertEquals(tooLong, rejected.reason());
            assertEquals(1, assertThrows(EditRejectedException.class, () -> editor.apply(List.of(SUE_WAS_SAD, CUT_SUBJECT))).requestIndex());
            assertEquals(original, model.weightsSha256());

            editor.apply(List.of(SUE_WAS_SAD));
        }
    }

    @Test
    void aTargetOptimisationThatDivergesIsRejected() {
        // a learning rate past float32's range: Adam's first step is infinite, the norm clamp turns it into NaN
        EditHyperparameters h = Stories.HYPERPARAMETERS;
        EditHyperparameters.Target t = h.target();
        EditHyperparameters absurd = new EditHyperparameters(h.description(), h.layers(), h.lambda(),
                new EditHyperparameters.Target(t.steps(), 1e39, t.klFactor(), t.weightDecay(), t.clampNormFactor(), t.earlyStopNll()),
                h.contextTemplates(), h.secondMoment(), h.nse(), h.alphaEdit(), h.prune());
        try (NDManager scope = stories.manager().newSubManager();
             LanguageModel model = Stories.load();
             Editor editor = Editor.create("memit", model, absurd, stories.c0(), scope, 1)) {
            String original = model.weightsSha256();
            EditRejectedException rejected = assertThrows(EditRejectedException.class, () -> editor.apply(List.of(SUE_WAS_SAD)));
            assertEquals(0, rejected.requestIndex());
            assertTrue(rejected.reason().contains("target"), rejected.reason());
            assertEquals(original, model.weightsSha256());
        }
    }

    @Test
    void aNonFiniteUpdateIsRejectedAndTheLayerAlreadyUpdatedIsPutBack() {
        // A damaged C0 (one NaN) for the second edit layer only: the first layer's update is applied, then the second's
        // comes out NaN, and the first must be undone bit for bit.
        int last = Stories.HYPERPARAMETERS.layers().get(Stories.HYPERPARAMETERS.layers().size() - 1);
        float[] damaged = stories.c0().get(last).data().clone();
        damaged[damaged.length / 2] = Float.NaN;
        Map<Integer, FloatMatrix> damagedC0 = new HashMap<>(stories.c0());
        damagedC0.put(last, new FloatMatrix(stories.c0().get(last).rows(), stories.c0().get(last).cols(), damaged));
        try (NDManager scope = stories.manager().newSubManager();
             LanguageModel model = Stories.load();
             Editor editor = Editor.create("memit+prune", model, Stories.HYPERPARAMETERS, damagedC0, scope, 1)) {
            String original = model.weightsSha256();
            EditRejectedException rejected = assertThrows(EditRejectedException.class,
                    () -> editor.apply(List.of(SUE_WAS_SAD, EditRequest.of("Lily likes to eat", "Lily", "soup", "cookies"))));
            assertEquals(0, rejected.requestIndex());
            assertTrue(rejected.reason().contains("update of layer " + last), rejected.reason());
            assertEquals(original, model.weightsSha256());
        }
    }
}

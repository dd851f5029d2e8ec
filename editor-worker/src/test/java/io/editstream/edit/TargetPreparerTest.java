package io.editstream.edit;


import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import io.editstream.model.LanguageModel;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** NSE's targets computed on a copy of the base, on another thread, edit bit for bit as those computed on the caller's. */
class TargetPreparerTest {

    private static final List<EditRequest> GROUP = List.of(
            EditRequest.of("Sue was very", "Sue", "sad", "excited"),
            EditRequest.of("Lily likes to eat", "Lily", "soup", "cookies"),
            EditRequest.of("Tom likes to play with his", "Tom", "dog", "toys"));

    @RegisterExtension
    static final StoriesEditing stories = new StoriesEditing();

    @Test
    void targetsFromAnotherThreadEditBitForBitAsTheCallersOwn() throws Exception {
        ExecutorService thread = Executors.newSingleThreadExecutor();
        try (NDManager scope = stories.manager().newSubManager();
             LanguageModel first = Stories.load();
             LanguageModel second = Stories.load();
             LanguageModel base = Stories.load();
             Editor here = Editor.create("nse+prune", first, Stories.HYPERPARAMETERS, stories.c0(), scope, 1);
             Editor there = Editor.create("nse+prune", second, Stories.HYPERPARAMETERS, stories.c0(), scope, 1)) {
            assertTrue(here.preparesTargetsFromBase());
            TargetPreparer preparer = there.targetPreparer(base).orElseThrow();
            Future<TargetPreparer.PreparedTargets> ahead = thread.submit(() -> {
                JniUtils.setGradMode(false);
                return preparer.prepare(GROUP);
            });
            // one thread at a time on the copy, as in the worker (its preparing thread is the copy's only user)
            there.prepare(ahead.get());
            here.prepare(here.targetPreparer(base).orElseThrow().prepare(GROUP));
            for (EditRequest request : GROUP) {
                assertEquals(here.apply(List.of(request)).deltas(), there.apply(List.of(request)).deltas(), request.toString());
            }
        } finally {
            thread.shutdownNow();
        }
    }

    @Test
    void editorsWhoseTargetsFollowTheEditsOfferNoPreparer() {
        try (NDManager scope = stories.manager().newSubManager();
             LanguageModel model = Stories.load();
             Editor memit = Editor.create("memit", model, Stories.HYPERPARAMETERS, stories.c0(), scope, 1)) {
            assertFalse(memit.preparesTargetsFromBase());
            assertTrue(memit.targetPreparer(model).isEmpty());
        }
    }
}

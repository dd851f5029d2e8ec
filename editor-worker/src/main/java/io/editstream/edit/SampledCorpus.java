package io.editstream.edit;

import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import java.util.ArrayList;
import java.util.List;

/**
 * Text a model samples itself from a few openings, seeded. For a model trained on a narrow corpus that is
 * not at hand (stories260K knows only TinyStories, no Wikipedia), its own samples are the closest stand-in for
 * its training text, which is what C0 should describe.
 */
public final class SampledCorpus {

    /** Openings of the kind of text TinyStories models were trained on. */
    public static final List<String> STORY_OPENINGS =
            List.of("Once upon a time", "One day", "Lily", "Tom", "The", "She", "He", "There was");

    private SampledCorpus() {
    }

    /**
     * @param perOpening samples per opening
     * @param tokens     tokens sampled after each opening
     * @return the samples, one per line
     */
    public static String sample(LanguageModel model, NDManager manager, List<String> openings, int perOpening, int tokens, long seed) {
        List<String> prompts = new ArrayList<>();
        for (String opening : openings) {
            for (int i = 0; i < perOpening; i++) {
                prompts.add(opening);
            }
        }
        List<String> samples = new TextSampler(model, 40).continueAll(manager, prompts, tokens, seed);
        return String.join("\n", samples.stream().map(s -> s.replace('\n', ' ')).toList());
    }
}

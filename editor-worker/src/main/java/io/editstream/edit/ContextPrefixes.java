package io.editstream.edit;

import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The texts put in front of a prompt when computing keys and targets: the empty prefix plus a few short
 * continuations the model itself samples (seeded), so an edit does not depend on the prompt opening the text.
 */
final class ContextPrefixes {

    private ContextPrefixes() {
    }

    /** @return the empty prefix first, then the sampled ones, each ending in ". " */
    static List<String> generate(NDManager manager, LanguageModel model, EditHyperparameters.ContextTemplates settings, long seed) {
        List<String> seeds = new ArrayList<>();
        for (String text : settings.seeds()) {
            seeds.addAll(Collections.nCopies(settings.perSeed(), text));
        }
        List<String> prefixes = new ArrayList<>();
        prefixes.add("");
        if (seeds.isEmpty() || settings.newTokens() == 0) {
            return List.copyOf(prefixes);
        }
        List<String> sampled = new TextSampler(model, settings.topK()).continueAll(manager, seeds, settings.newTokens(), seed);
        for (String text : sampled) {
            // Braces would read as template holes downstream; newlines would split a prompt in two.
            prefixes.add(text.replace("{", " ").replace("}", " ").replace('\n', ' ').strip() + ". ");
        }
        return List.copyOf(prefixes);
    }
}

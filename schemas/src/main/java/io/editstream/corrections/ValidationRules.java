package io.editstream.corrections;

import java.util.Set;

/**
 * The limits a correction must meet.
 *
 * @param knownModels    model ids this deployment edits; empty means "any model" (for a detector-side client that
 *                       does not know the deployment; the topology always configures the list)
 * @param maxTextChars   longest subject, prompt, target, paraphrase or neighborhood prompt, in characters
 * @param maxListSize    most paraphrases and most neighborhood prompts per correction
 */
public record ValidationRules(Set<String> knownModels, int maxTextChars, int maxListSize) {
    public static final int DEFAULT_MAX_TEXT_CHARS = 2_000;
    public static final int DEFAULT_MAX_LIST_SIZE = 64;

    public ValidationRules {
        knownModels = Set.copyOf(knownModels);
        if (maxTextChars <= 0 || maxListSize < 0) {
            throw new IllegalArgumentException("maxTextChars must be > 0 and maxListSize >= 0");
        }
    }

    public static ValidationRules forModels(Set<String> knownModels) {
        return new ValidationRules(knownModels, DEFAULT_MAX_TEXT_CHARS, DEFAULT_MAX_LIST_SIZE);
    }

    public static ValidationRules anyModel() {
        return forModels(Set.of());
    }
}

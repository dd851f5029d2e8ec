package io.editstream.corrections;

import java.util.Set;

/**
 * The limits a correction must meet. Sizes are in UTF-8 bytes, the unit Kafka's record limits are in: a limit in
 * characters lets a text of 3-byte characters grow three times past what was meant.
 *
 * @param knownModels        model ids this deployment edits; empty means "any model" (for a detector-side client
 *                           that does not know the deployment; the topology always configures the list)
 * @param maxTextBytes       longest id, subject, prompt, target, source, paraphrase or neighborhood prompt, in
 *                           UTF-8 bytes
 * @param maxListSize        most paraphrases and most neighborhood prompts per correction
 * @param maxCorrectionBytes most bytes a whole correction may take encoded (an upper bound of its Avro encoding plus
 *                           the 5-byte wire header); the topology refuses a record value longer than this unread
 */
public record ValidationRules(Set<String> knownModels, int maxTextBytes, int maxListSize, int maxCorrectionBytes) {
    public static final int DEFAULT_MAX_TEXT_BYTES = 4_096;
    public static final int DEFAULT_MAX_LIST_SIZE = 64;
    /**
     * A quarter of Kafka's default 1 MiB record limit: an edit carries about the bytes of its correction, so a
     * batch holds at least a few edits and the DLQ record of a refused correction (its bytes plus a reason) fits.
     */
    public static final int DEFAULT_MAX_CORRECTION_BYTES = 256 * 1024;

    public ValidationRules {
        knownModels = Set.copyOf(knownModels);
        if (maxTextBytes <= 0 || maxListSize < 0 || maxCorrectionBytes <= 0) {
            throw new IllegalArgumentException("maxTextBytes and maxCorrectionBytes must be > 0, maxListSize >= 0");
        }
    }

    public static ValidationRules forModels(Set<String> knownModels) {
        return new ValidationRules(knownModels, DEFAULT_MAX_TEXT_BYTES, DEFAULT_MAX_LIST_SIZE,
                DEFAULT_MAX_CORRECTION_BYTES);
    }

    public static ValidationRules anyModel() {
        return forModels(Set.of());
    }
}

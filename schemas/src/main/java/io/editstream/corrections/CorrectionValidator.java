package io.editstream.corrections;

import java.util.List;
import java.util.Optional;

import io.editstream.events.CorrectionEvent;
import io.editstream.events.DeadLetterReason;

/** The validation rules of DESIGN.md, step 1, shared by the detector client and the topology. */
public final class CorrectionValidator {
    private final ValidationRules rules;

    public CorrectionValidator(ValidationRules rules) {
        this.rules = rules;
    }

    /** The first rule the correction breaks, or empty when it is valid. */
    public Optional<Rejection> validate(CorrectionEvent c) {
        for (String[] field : new String[][] {
                {"correction_id", c.getCorrectionId()}, {"model_id", c.getModelId()}, {"subject", c.getSubject()},
                {"prompt", c.getPrompt()}, {"target_new", c.getTargetNew()}, {"source", c.getSource()}}) {
            if (field[1] == null) {
                return reject(DeadLetterReason.MISSING_FIELD, field[0] + " is missing");
            }
            if (field[1].isBlank()) {
                return reject(DeadLetterReason.EMPTY_FIELD, field[0] + " is empty");
            }
        }
        if (!rules.knownModels().isEmpty() && !rules.knownModels().contains(c.getModelId())) {
            return reject(DeadLetterReason.UNKNOWN_MODEL, "model_id '" + c.getModelId() + "' is not one of "
                    + rules.knownModels().stream().sorted().toList());
        }
        Optional<Rejection> oversized = firstOversized(c);
        if (oversized.isPresent()) {
            return oversized;
        }
        if (PromptTemplate.ofPrompt(c.getPrompt(), c.getSubject()) == null) {
            return reject(DeadLetterReason.PROMPT_WITHOUT_SUBJECT, "prompt '" + c.getPrompt()
                    + "' has neither exactly one '{}' nor the subject '" + c.getSubject() + "'");
        }
        if (c.getTargetTrue() != null && c.getTargetTrue().strip().equals(c.getTargetNew().strip())) {
            return reject(DeadLetterReason.TARGET_EQUALS_TRUE,
                    "target_new equals target_true ('" + c.getTargetNew().strip() + "'): nothing to correct");
        }
        double confidence = c.getConfidence();
        if (!(confidence >= 0.0 && confidence <= 1.0)) {
            return reject(DeadLetterReason.INVALID_CONFIDENCE, "confidence " + confidence + " is not in [0, 1]");
        }
        return Optional.empty();
    }

    private Optional<Rejection> firstOversized(CorrectionEvent c) {
        for (String[] field : new String[][] {{"subject", c.getSubject()}, {"prompt", c.getPrompt()},
                {"target_new", c.getTargetNew()}, {"target_true", c.getTargetTrue()}}) {
            if (field[1] != null && field[1].length() > rules.maxTextChars()) {
                return reject(DeadLetterReason.OVERSIZED_TEXT, field[0] + " has " + field[1].length()
                        + " characters, more than the limit of " + rules.maxTextChars());
            }
        }
        for (var list : List.of(new NamedList("paraphrases", c.getParaphrases()),
                new NamedList("neighborhood_prompts", c.getNeighborhoodPrompts()))) {
            if (list.items() == null) {
                continue;
            }
            if (list.items().size() > rules.maxListSize()) {
                return reject(DeadLetterReason.OVERSIZED_TEXT, list.name() + " has " + list.items().size()
                        + " entries, more than the limit of " + rules.maxListSize());
            }
            for (String item : list.items()) {
                if (item == null || item.length() > rules.maxTextChars()) {
                    return reject(DeadLetterReason.OVERSIZED_TEXT, list.name() + " has an entry that is null or longer than "
                            + rules.maxTextChars() + " characters");
                }
            }
        }
        return Optional.empty();
    }

    private record NamedList(String name, List<String> items) {
    }

    private static Optional<Rejection> reject(DeadLetterReason reason, String message) {
        return Optional.of(new Rejection(reason, message));
    }
}

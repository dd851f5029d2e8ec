package io.editstream.corrections;

import java.util.ArrayList;
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
        Optional<Rejection> malformed = firstMalformed(c);
        if (malformed.isPresent()) {
            return malformed;
        }
        if (!rules.knownModels().isEmpty() && !rules.knownModels().contains(c.getModelId())) {
            return reject(DeadLetterReason.UNKNOWN_MODEL, "model_id '" + c.getModelId() + "' is not one of "
                    + rules.knownModels().stream().sorted().toList());
        }
        Optional<Rejection> oversized = firstOversized(c);
        if (oversized.isPresent()) {
            return oversized;
        }
        if (c.getSubject().contains(PromptTemplate.SLOT)) {
            return reject(DeadLetterReason.SUBJECT_WITH_SLOT, "subject '" + c.getSubject() + "' contains '"
                    + PromptTemplate.SLOT + "', the placeholder prompt templates put the subject in");
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

    /** A Java string with an unpaired surrogate has no UTF-8 encoding (the encoder would write '?' instead). */
    private static Optional<Rejection> firstMalformed(CorrectionEvent c) {
        for (NamedText field : namedTexts(c)) {
            if (field.text() != null && EncodedSize.utf8Length(field.text()) < 0) {
                return reject(DeadLetterReason.INVALID_TEXT, field.name() + " is not valid Unicode text "
                        + "(an unpaired surrogate), so it has no UTF-8 encoding");
            }
        }
        return Optional.empty();
    }

    private Optional<Rejection> firstOversized(CorrectionEvent c) {
        for (NamedText field : namedTexts(c)) {
            int bytes = field.text() == null ? 0 : EncodedSize.utf8Length(field.text());
            if (bytes > rules.maxTextBytes()) {
                return reject(DeadLetterReason.OVERSIZED_TEXT, field.name() + " has " + bytes
                        + " bytes (UTF-8), more than the limit of " + rules.maxTextBytes());
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
                if (item == null || EncodedSize.utf8Length(item) > rules.maxTextBytes()) {
                    return reject(DeadLetterReason.OVERSIZED_TEXT, list.name() + " has an entry that is null or "
                            + "longer than " + rules.maxTextBytes() + " bytes (UTF-8)");
                }
            }
        }
        long total = EncodedSize.of(c);
        if (total > rules.maxCorrectionBytes()) {
            return reject(DeadLetterReason.OVERSIZED_RECORD, "the correction takes up to " + total
                    + " bytes encoded, more than the limit of " + rules.maxCorrectionBytes());
        }
        return Optional.empty();
    }

    private static List<NamedText> namedTexts(CorrectionEvent c) {
        List<NamedText> texts = new ArrayList<>(List.of(new NamedText("correction_id", c.getCorrectionId()),
                new NamedText("model_id", c.getModelId()), new NamedText("subject", c.getSubject()),
                new NamedText("prompt", c.getPrompt()), new NamedText("target_new", c.getTargetNew()),
                new NamedText("target_true", c.getTargetTrue()), new NamedText("source", c.getSource())));
        for (var list : List.of(new NamedList("paraphrases", c.getParaphrases()),
                new NamedList("neighborhood_prompts", c.getNeighborhoodPrompts()))) {
            if (list.items() != null) {
                list.items().forEach(item -> texts.add(new NamedText(list.name(), item)));
            }
        }
        if (c.getTraceContext() != null) {
            c.getTraceContext().forEach((key, value) -> {
                texts.add(new NamedText("trace_context key", key));
                texts.add(new NamedText("trace_context['" + key + "']", value));
            });
        }
        return texts;
    }

    private record NamedText(String name, CharSequence text) {
    }

    private record NamedList(String name, List<String> items) {
    }

    private static Optional<Rejection> reject(DeadLetterReason reason, String message) {
        return Optional.of(new Rejection(reason, message));
    }
}

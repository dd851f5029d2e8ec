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
        Rejection badText = firstBadText(c);
        if (badText != null) {
            return Optional.of(badText);
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

    /**
     * The first text with no UTF-8 encoding (a Java string with an unpaired surrogate; the encoder would write '?'
     * instead) or over the byte limit, then the list and whole-correction limits: one pass over the texts that
     * allocates nothing for a valid correction.
     */
    private Rejection firstBadText(CorrectionEvent c) {
        Rejection bad = text("correction_id", c.getCorrectionId());
        bad = bad != null ? bad : text("model_id", c.getModelId());
        bad = bad != null ? bad : text("subject", c.getSubject());
        bad = bad != null ? bad : text("prompt", c.getPrompt());
        bad = bad != null ? bad : text("target_new", c.getTargetNew());
        bad = bad != null ? bad : text("target_true", c.getTargetTrue());
        bad = bad != null ? bad : text("source", c.getSource());
        bad = bad != null ? bad : list("paraphrases", c.getParaphrases());
        bad = bad != null ? bad : list("neighborhood_prompts", c.getNeighborhoodPrompts());
        if (bad == null && c.getTraceContext() != null) {
            for (var entry : c.getTraceContext().entrySet()) {
                bad = bad != null ? bad : text("a trace_context key", entry.getKey());
                bad = bad != null ? bad : text("a trace_context value", entry.getValue());
            }
        }
        if (bad != null) {
            return bad;
        }
        long total = EncodedSize.of(c);
        if (total > rules.maxCorrectionBytes()) {
            return new Rejection(DeadLetterReason.OVERSIZED_RECORD, "the correction takes up to " + total
                    + " bytes encoded, more than the limit of " + rules.maxCorrectionBytes());
        }
        return null;
    }

    private Rejection text(String name, CharSequence text) {
        if (text == null) {
            return null;
        }
        int bytes = EncodedSize.utf8Length(text);
        if (bytes < 0) {
            return new Rejection(DeadLetterReason.INVALID_TEXT, name + " is not valid Unicode text (an unpaired "
                    + "surrogate), so it has no UTF-8 encoding");
        }
        if (bytes > rules.maxTextBytes()) {
            return new Rejection(DeadLetterReason.OVERSIZED_TEXT, name + " has " + bytes
                    + " bytes (UTF-8), more than the limit of " + rules.maxTextBytes());
        }
        return null;
    }

    private Rejection list(String name, List<String> items) {
        if (items == null) {
            return null;
        }
        if (items.size() > rules.maxListSize()) {
            return new Rejection(DeadLetterReason.OVERSIZED_TEXT, name + " has " + items.size()
                    + " entries, more than the limit of " + rules.maxListSize());
        }
        for (String item : items) {
            if (item == null) {
                return new Rejection(DeadLetterReason.MISSING_FIELD, name + " has a null entry");
            }
            Rejection bad = text(name, item);
            if (bad != null) {
                return bad;
            }
        }
        return null;
    }

    private static Optional<Rejection> reject(DeadLetterReason reason, String message) {
        return Optional.of(new Rejection(reason, message));
    }
}

package io.editstream.corrections;

/**
 * A prompt with exactly one {@code {}} where the subject goes. Corrections may carry either the template or the full
 * prompt with the subject spelled out; both normalise to the same template so that dedup and supersession compare
 * facts, not spellings.
 */
public record PromptTemplate(String template) {
    public static final String SLOT = "{}";

    public PromptTemplate {
        int first = template.indexOf(SLOT);
        if (first < 0 || template.indexOf(SLOT, first + SLOT.length()) >= 0) {
            throw new IllegalArgumentException("a prompt template needs exactly one '{}': " + template);
        }
    }

    /**
     * The template of a correction's prompt, or null when the prompt neither has one {@code {}} nor contains the
     * subject (the first occurrence of the subject becomes the slot).
     */
    public static PromptTemplate ofPrompt(String prompt, String subject) {
        int slot = prompt.indexOf(SLOT);
        if (slot >= 0) {
            return prompt.indexOf(SLOT, slot + SLOT.length()) >= 0 ? null : new PromptTemplate(prompt);
        }
        int at = subject.isEmpty() ? -1 : prompt.indexOf(subject);
        if (at < 0) {
            return null;
        }
        return new PromptTemplate(prompt.substring(0, at) + SLOT + prompt.substring(at + subject.length()));
    }

    /** The prompt with the subject in the slot. */
    public String fill(String subject) {
        return template.replace(SLOT, subject);
    }
}

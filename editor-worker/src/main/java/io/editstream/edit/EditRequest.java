package io.editstream.edit;

/**
 * One fact to write into the model: after the edit, {@code prompt} with {@code subject} filled in should
 * continue with {@code targetNew}.
 *
 * @param prompt     a template with {@code {}} where the subject goes
 * @param subject    the entity the fact is about
 * @param targetNew  the continuation to teach (joined to the prompt with a space unless it starts with one)
 * @param targetTrue the continuation the model gave before, or {@code null} when unknown
 */
public record EditRequest(String prompt, String subject, String targetNew, String targetTrue) {

    public EditRequest {
        requireText(subject, "subject");
        requireText(targetNew, "target_new");
        requireText(prompt, "prompt");
        if (!prompt.contains("{}")) {
            throw new IllegalArgumentException("prompt has no '{}' for the subject: " + prompt);
        }
        if (targetNew.equals(targetTrue)) {
            throw new IllegalArgumentException("target_new equals target_true: " + targetNew);
        }
    }

    /**
     * Accepts a prompt that either is a template or contains the subject verbatim (CounterFact in the
     * EasyEdit format), and turns the latter into a template at the subject's first occurrence.
     */
    public static EditRequest of(String prompt, String subject, String targetNew, String targetTrue) {
        requireText(prompt, "prompt");
        requireText(subject, "subject");
        if (prompt.contains("{}")) {
            return new EditRequest(prompt, subject, targetNew, targetTrue);
        }
        return new EditRequest(template(prompt, subject), subject, targetNew, targetTrue);
    }

    /** The prompt with the subject's first occurrence replaced by {}. */
    public static String template(String prompt, String subject) {
        int at = prompt.indexOf(subject);
        if (at < 0) {
            throw new IllegalArgumentException("prompt does not contain the subject '" + subject + "': " + prompt);
        }
        return prompt.substring(0, at) + "{}" + prompt.substring(at + subject.length());
    }

    /** The prompt with the subject filled in. */
    public String filledPrompt() {
        return prompt.replace("{}", subject);
    }

    /** The prompt up to and including the subject: its last token is where keys and targets are read. */
    public String throughSubject() {
        return prompt.substring(0, prompt.indexOf("{}")) + subject;
    }

    private static void requireText(String value, String field) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("edit request needs a non-empty " + field);
        }
    }
}

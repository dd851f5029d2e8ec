package io.editstream.train;

/**
 * One true fact as the model learns it: a prompt and the answer that follows it.
 *
 * @param kind   which CounterFact prompt it came from
 * @param caseId the CounterFact case it belongs to
 */
public record Fact(String prompt, String answer, Kind kind, int caseId) {

    /**
     * The three prompts of a CounterFact case, and PARAPHRASE: a rewrite or locality fact said through another
     * template of its relation (see {@link RelationTemplates}).
     */
    public enum Kind { REWRITE, REPHRASE, LOCALITY, PARAPHRASE, BARE_SUBJECT }

    public Fact {
        if (prompt == null || prompt.isBlank() || answer == null || answer.isBlank()) {
            throw new IllegalArgumentException("fact of case " + caseId + " (" + kind + ") needs a prompt and an answer");
        }
        answer = answer.strip();
    }

    /** The sentence the model is trained on: the prompt followed by its answer, one space between. */
    public String text() {
        return prompt + " " + answer;
    }
}

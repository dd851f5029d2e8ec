package io.editstream.eval;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.editstream.edit.EditRequest;

/**
 * One CounterFact case in the EasyEdit JSON format. The prompts contain the subject verbatim.
 *
 * @param caseId              id of the case in CounterFact
 * @param prompt              the rewrite prompt, e.g. "Autonomous University of Madrid, which is located in"
 * @param subject             the entity edited
 * @param groundTruth         target_true: what the fact was
 * @param targetNew           what it becomes
 * @param rephrasePrompt      a paraphrase of the prompt (generalization)
 * @param localityPrompt      a neighborhood prompt about another subject sharing the true object (specificity)
 * @param localityGroundTruth the answer the neighborhood prompt must keep
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record CounterFactRecord(
        @JsonProperty("case_id") int caseId,
        @JsonProperty("prompt") String prompt,
        @JsonProperty("subject") String subject,
        @JsonProperty("ground_truth") String groundTruth,
        @JsonProperty("target_new") String targetNew,
        @JsonProperty("rephrase_prompt") String rephrasePrompt,
        @JsonProperty("locality_prompt") String localityPrompt,
        @JsonProperty("locality_ground_truth") String localityGroundTruth) {

    public CounterFactRecord {
        for (String[] field : new String[][] {{"prompt", prompt}, {"subject", subject}, {"ground_truth", groundTruth},
                {"target_new", targetNew}, {"rephrase_prompt", rephrasePrompt}, {"locality_prompt", localityPrompt},
                {"locality_ground_truth", localityGroundTruth}}) {
            if (field[1] == null || field[1].isBlank()) {
                throw new IllegalArgumentException("CounterFact case " + caseId + " has no " + field[0]);
            }
        }
        if (!prompt.contains(subject)) {
            throw new IllegalArgumentException("CounterFact case " + caseId + ": prompt does not contain the subject '" + subject + "'");
        }
    }

    /** The edit this case asks for. */
    public EditRequest toEditRequest() {
        return EditRequest.of(prompt, subject, targetNew, groundTruth);
    }
}

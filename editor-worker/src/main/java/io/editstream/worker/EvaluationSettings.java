package io.editstream.worker;

/**
 * How much the worker measures per edit and per version. Every count bounds a forward-pass budget: evaluation runs
 * after every batch, so it has to stay cheap next to the edit itself.
 *
 * @param retentionSample  most earlier edits re-measured per version (retention)
 * @param heldOutTokens    predicted tokens of the held-out text per perplexity measurement
 * @param generationTokens new tokens of each greedy continuation in the generation checks (at least the target's own
 *                         token count is generated, so a long target can still be found)
 * @param localityPrompts  most unrelated prompts compared with the unedited model
 */
public record EvaluationSettings(int retentionSample, int heldOutTokens, int generationTokens, int localityPrompts) {

    /**
     * A few forward passes per version and one scoring pass plus short generations per edit: 32 earlier edits, 512
     * held-out tokens, 8 new tokens (enough for a CounterFact answer and a word or two before it), 16 locality prompts.
     */
    public static final EvaluationSettings DEFAULTS = new EvaluationSettings(32, 512, 8, 16);

    public EvaluationSettings {
        if (retentionSample < 1 || heldOutTokens < 1 || generationTokens < 1 || localityPrompts < 1) {
            throw new IllegalArgumentException("evaluation settings must all be at least 1, got " + retentionSample + " retention edits, "
                    + heldOutTokens + " held-out tokens, " + generationTokens + " generation tokens, " + localityPrompts + " locality prompts");
        }
    }
}

package io.editstream.train;

import io.editstream.model.TextTokenizer;

import java.util.Arrays;

/**
 * A fact as a training sequence: {@code BOS prompt answer EOS}. Position {@code i} predicts token {@code i + 1};
 * the positions from {@code answerStart - 1} on predict the answer and the EOS after it.
 */
record EncodedFact(int[] tokens, int answerStart) {

    static EncodedFact of(Fact fact, TextTokenizer tokenizer, int unkId, int maxSeqLen) {
        int[] text = tokenizer.encode(fact.text(), true);
        int[] prompt = tokenizer.encode(fact.prompt(), true);
        if (Arrays.stream(text).anyMatch(id -> id == unkId)) {
            throw new IllegalArgumentException("the tokenizer does not cover the fact '" + fact.text() + "'");
        }
        if (!Arrays.equals(prompt, Arrays.copyOf(text, prompt.length))) {
            throw new IllegalArgumentException("the answer of '" + fact.text() + "' does not start a new token after its prompt");
        }
        int[] tokens = Arrays.copyOf(text, text.length + 1);
        tokens[text.length] = tokenizer.eosId();
        if (tokens.length - 1 > maxSeqLen) {
            throw new IllegalArgumentException("the fact '" + fact.text() + "' has " + tokens.length
                    + " tokens, more than the context of " + maxSeqLen + " + 1");
        }
        return new EncodedFact(tokens, prompt.length);
    }

    /** Positions the model reads (all but the last token). */
    int inputLength() {
        return tokens.length - 1;
    }
}

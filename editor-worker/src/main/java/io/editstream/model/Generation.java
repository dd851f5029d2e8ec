package io.editstream.model;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A generated sequence.
 *
 * @param tokens every token of the sequence: BOS, the prompt, then the generated tokens
 * @param promptLength how many of {@code tokens} came from the prompt (BOS included)
 * @param text the decoded text of everything after BOS (prompt included), as llama2.c's {@code run} prints it
 */
public record Generation(int[] tokens, int promptLength, String text) {

    public Generation {
        tokens = tokens.clone();
    }

    /** Every token of the sequence (a copy). */
    @Override
    public int[] tokens() {
        return tokens.clone();
    }

    /** The tokens the model chose. */
    public int[] generatedTokens() {
        return Arrays.copyOfRange(tokens, promptLength, tokens.length);
    }

    /** What the {@code generate} command prints: the text and the newline llama2.c ends its output with. */
    public byte[] printed() {
        return (text + "\n").getBytes(StandardCharsets.UTF_8);
    }
}

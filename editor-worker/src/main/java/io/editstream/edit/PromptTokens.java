package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.editstream.model.TextTokenizer;
import java.util.Arrays;

/** How prompts, subjects and targets become token positions; shared by keys, targets and evaluation. */
public final class PromptTokens {

    private PromptTokens() {
    }

    /** Token ids of a prompt as the model reads it (with BOS where the tokenizer has one). */
    public static int[] prompt(TextTokenizer tokenizer, String text) {
        return tokenizer.encode(text, true);
    }

    /** Position of the last token of {@code textThroughSubject} (a prompt cut right after its subject). */
    public static int lastSubjectPosition(TextTokenizer tokenizer, String textThroughSubject) {
        return prompt(tokenizer, textThroughSubject).length - 1;
    }

    /**
     * Whether {@link #lastSubjectPosition} is the subject's last token in {@code text}'s own tokens: it is when the tokens
     * of the text cut after the subject begin the text's tokens. A subject whose last piece merges with what follows it
     * (a name cut inside a word) has no token of its own in the prompt, and the position would point at another one.
     */
    public static boolean locatesSubject(TextTokenizer tokenizer, String text, String textThroughSubject) {
        int[] through = prompt(tokenizer, textThroughSubject);
        int[] all = prompt(tokenizer, text);
        return through.length <= all.length && Arrays.equals(through, 0, through.length, all, 0, through.length);
    }

    /**
     * Token ids of {@code target} as it continues {@code prompt}. Tokenising the joined text and cutting off the
     * prompt's tokens gives the ids the model would really see (word-initial pieces differ from standalone ones);
     * when the prompt's tokens are not a prefix of the joined text's, the target is tokenised alone.
     */
    public static int[] target(TextTokenizer tokenizer, String prompt, String target) {
        String joined = prompt + (target.startsWith(" ") ? "" : " ") + target;
        int[] full = tokenizer.encode(joined, true);
        int[] head = tokenizer.encode(prompt, true);
        if (full.length > head.length && Arrays.equals(head, Arrays.copyOf(full, head.length))) {
            return Arrays.copyOfRange(full, head.length, full.length);
        }
        int[] alone = tokenizer.encode(target.strip(), false);
        if (alone.length == 0) {
            throw new IllegalArgumentException("target '" + target + "' has no tokens");
        }
        return alone;
    }

    /** Concatenation of id arrays. */
    public static int[] concat(int[] first, int[] second) {
        int[] out = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, out, first.length, second.length);
        return out;
    }

    /** Rows {@code x[r, positions[r]]} of a {@code [batch, seq, width]} array: {@code [batch, width]}. */
    public static NDArray atPositions(NDManager manager, NDArray x, int[] positions) {
        long[] rows = new long[positions.length];
        long[] columns = new long[positions.length];
        for (int r = 0; r < positions.length; r++) {
            rows[r] = r;
            columns[r] = positions[r];
        }
        return x.get(new NDIndex("{}, {}", manager.create(rows), manager.create(columns)));
    }
}

package io.editstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;

/**
 * Greedy (argmax) decoding with a KV cache, following llama2.c's {@code generate}: the sequence starts with BOS and
 * the prompt, each position run yields the token after it, and decoding stops early when the model emits BOS
 * (llama2.c's delimiter between stories) or EOS.
 *
 * <p>How many positions run: positions {@code 0..steps} inclusive, so BOS is followed by {@code steps + 1} tokens
 * (prompt included). That is one more than llama2.c's {@code run -n steps} prints, and it is what the project's
 * reference output {@code models/stories260K/greedy-reference.txt} ("256 steps") holds: 257 tokens after BOS. The
 * token trajectory itself is llama2.c's (the smallest top-1/top-2 logit gap along it is 4e-3, far above float32
 * noise).
 */
public final class Generator {

    private static final Logger LOG = LoggerFactory.getLogger(Generator.class);

    private final LanguageModel model;

    public Generator(LanguageModel model) {
        this.model = model;
    }

    /**
     * @param prompt text to continue ("" starts from BOS alone)
     * @param steps  the last position to run (see the class comment); 0 or more than the context means the whole
     *               context
     */
    public Generation greedy(NDManager manager, String prompt, int steps) {
        TextTokenizer tokenizer = model.tokenizer();
        int[] promptTokens = tokenizer.encode(prompt, true);
        if (promptTokens.length == 0) {
            throw new IllegalArgumentException("nothing to start from: the prompt is empty and the tokenizer has no BOS");
        }
        int contextEnd = model.config().maxSeqLen() - 1;
        int positions = (steps <= 0 ? contextEnd : Math.min(steps, contextEnd)) + 1;
        int length = positions + 1;
        if (promptTokens.length > positions) {
            throw new IllegalArgumentException("the prompt has " + promptTokens.length + " tokens (BOS included); at most " + positions + " fit");
        }
        int[] sequence = Arrays.copyOf(promptTokens, length);
        int filled = promptTokens.length;
        long lastLog = System.nanoTime();
        try (NDManager run = manager.newSubManager(model.device());
             KvCache cache = model.newKvCache(run, 1, positions)) {
            // the prompt in one pass, then one token per step; each step's arrays die with its sub-manager
            int next;
            try (NDManager step = run.newSubManager()) {
                next = argmaxOfLast(model.forward(step, TokenBatch.of(promptTokens), cache));
            }
            while (true) {
                if (next == tokenizer.bosId() || next == tokenizer.eosId()) {
                    break;
                }
                sequence[filled++] = next;
                if (filled == length) {
                    break;
                }
                try (NDManager step = run.newSubManager()) {
                    next = argmaxOfLast(model.forward(step, TokenBatch.of(new int[] {next}), cache));
                }
                if (System.nanoTime() - lastLog > 5_000_000_000L) {
                    LOG.info("generated {}/{} tokens", filled, length);
                    lastLog = System.nanoTime();
                }
            }
        }
        int[] tokens = Arrays.copyOf(sequence, filled);
        return new Generation(tokens, promptTokens.length, tokenizer.decode(tokens));
    }

    /** Argmax of the last position's logits; the lowest id wins a tie, as in llama2.c. */
    private static int argmaxOfLast(NDArray logits) {
        float[] values = logits.get(0, logits.getShape().get(1) - 1).toFloatArray();
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }
}

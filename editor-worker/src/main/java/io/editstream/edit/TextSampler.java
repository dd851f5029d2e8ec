package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.editstream.model.ForwardResult;
import io.editstream.model.LanguageModel;
import io.editstream.model.Probe;
import io.editstream.model.TokenBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Seeded top-k sampling from a model, for context templates and for a model's own text when no corpus
 * exists. Sampling happens on the heap with {@link Random}, so the same seed gives the same text on the CPU.
 */
public final class TextSampler {

    /** Small batches: the forward pass of this runtime slows down sharply for wide, long batches. */
    private static final int ROWS_PER_BATCH = 8;

    private final LanguageModel model;
    private final int topK;

    public TextSampler(LanguageModel model, int topK) {
        if (topK < 1) {
            throw new IllegalArgumentException("top-k must be at least 1, got " + topK);
        }
        this.model = model;
        this.topK = topK;
    }

    /**
     * Continues each prompt by up to {@code newTokens} tokens (a row stops early at EOS) and returns the
     * prompts with their continuations as text.
     */
    public List<String> continueAll(NDManager manager, List<String> prompts, int newTokens, long seed) {
        Random random = new Random(seed);
        List<String> texts = new ArrayList<>();
        for (int start = 0; start < prompts.size(); start += ROWS_PER_BATCH) {
            texts.addAll(continueBatch(manager, prompts.subList(start, Math.min(prompts.size(), start + ROWS_PER_BATCH)), newTokens, random));
        }
        return texts;
    }

    private List<String> continueBatch(NDManager manager, List<String> prompts, int newTokens, Random random) {
        int eos = model.tokenizer().eosId();
        List<int[]> rows = new ArrayList<>();
        for (String prompt : prompts) {
            rows.add(model.tokenizer().encode(prompt, true));
        }
        boolean[] finished = new boolean[rows.size()];
        for (int step = 0; step < newTokens; step++) {
            int longest = rows.stream().mapToInt(r -> r.length).max().orElseThrow();
            if (longest >= model.config().maxSeqLen()) {
                break;
            }
            try (NDManager scope = manager.newSubManager()) {
                TokenBatch batch = TokenBatch.of(rows);
                ForwardResult result = model.forward(scope, batch, Probe.none());
                int[] last = batch.lastPositions();
                for (int r = 0; r < rows.size(); r++) {
                    if (finished[r]) {
                        continue;
                    }
                    NDArray logits = result.logits().get(new NDIndex(r, last[r]));
                    int next = sample(logits.toFloatArray(), random);
                    if (next == eos) {
                        finished[r] = true;
                        continue;
                    }
                    int[] grown = Arrays.copyOf(rows.get(r), rows.get(r).length + 1);
                    grown[grown.length - 1] = next;
                    rows.set(r, grown);
                }
            }
        }
        return rows.stream().map(model.tokenizer()::decode).toList();
    }

    private int sample(float[] logits, Random random) {
        Integer[] order = new Integer[logits.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        // Ties resolved by token id: the draw must not depend on sort stability across JVMs.
        Arrays.sort(order, (x, y) -> logits[x] != logits[y] ? Float.compare(logits[y], logits[x]) : Integer.compare(x, y));
        int k = Math.min(topK, logits.length);
        double[] weights = new double[k];
        double total = 0;
        for (int i = 0; i < k; i++) {
            weights[i] = Math.exp((double) logits[order[i]] - logits[order[0]]);
            total += weights[i];
        }
        double draw = random.nextDouble() * total;
        for (int i = 0; i < k; i++) {
            draw -= weights[i];
            if (draw <= 0) {
                return order[i];
            }
        }
        return order[k - 1];
    }
}

package io.editstream.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.editstream.model.LanguageModel;
import io.editstream.model.Probe;
import io.editstream.model.TokenBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Perplexity on held-out text: exp of the mean next-token NLL, line by line in windows of the model's context. */
public final class Perplexity {

    private static final int ROWS_PER_BATCH = 16;

    private Perplexity() {
    }

    /** @param maxTokens stop after this many predicted tokens (keeps repeated measurement cheap) */
    public static double of(LanguageModel model, NDManager manager, String text, int window, int maxTokens) {
        int width = Math.min(window, model.config().maxSeqLen());
        List<int[]> windows = new ArrayList<>();
        long tokens = 0;
        for (String line : text.split("\n")) {
            if (line.isBlank() || tokens >= maxTokens) {
                continue;
            }
            int[] ids = model.tokenizer().encode(line.strip(), true);
            for (int start = 0; start + 1 < ids.length && tokens < maxTokens; start += width) {
                int[] piece = Arrays.copyOfRange(ids, start, Math.min(ids.length, start + width));
                if (piece.length > 1) {
                    windows.add(piece);
                    tokens += piece.length - 1;
                }
            }
        }
        if (windows.isEmpty()) {
            throw new IllegalArgumentException("held-out text has nothing to predict");
        }
        double nll = 0;
        long count = 0;
        for (int start = 0; start < windows.size(); start += ROWS_PER_BATCH) {
            List<int[]> rows = windows.subList(start, Math.min(windows.size(), start + ROWS_PER_BATCH));
            try (NDManager scope = manager.newSubManager()) {
                NDArray logProbs = model.forward(scope, TokenBatch.of(rows), Probe.none()).logits().logSoftmax(-1);
                for (int r = 0; r < rows.size(); r++) {
                    int[] ids = rows.get(r);
                    long[] next = new long[ids.length - 1];
                    for (int t = 1; t < ids.length; t++) {
                        next[t - 1] = ids[t];
                    }
                    NDArray predicted = logProbs.get(new NDIndex("{}, :{}", r, ids.length - 1));
                    NDArray picked = predicted.gather(scope.create(next).reshape(-1, 1), 1);
                    nll -= picked.sum().getFloat();
                    count += next.length;
                }
            }
        }
        return Math.exp(nll / count);
    }
}

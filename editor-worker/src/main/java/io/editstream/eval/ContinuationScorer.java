package io.editstream.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import io.editstream.edit.PromptTokens;
import io.editstream.model.LanguageModel;
import io.editstream.model.Probe;
import io.editstream.model.TokenBatch;
import java.util.ArrayList;
import java.util.List;

/**
 * Teacher-forced scores of continuations: the prompt followed by the continuation's tokens is run once,
 * and each continuation token is read off the logits of the position before it.
 */
public final class ContinuationScorer {

    private static final int ROWS_PER_BATCH = 32;

    /** A prompt and the text that should follow it. */
    public record Query(String prompt, String continuation) {
    }

    /**
     * @param meanNll   mean negative log-likelihood per continuation token
     * @param accuracy  fraction of continuation tokens that are the model's top-1 prediction
     * @param predicted the model's top-1 token at each continuation position
     */
    public record Score(double meanNll, double accuracy, int[] predicted) {
    }

    private final LanguageModel model;
    private final NDManager manager;

    public ContinuationScorer(LanguageModel model, NDManager manager) {
        this.model = model;
        this.manager = manager;
    }

    public Score score(Query query) {
        return scoreAll(List.of(query)).get(0);
    }

    public List<Score> scoreAll(List<Query> queries) {
        List<Score> scores = new ArrayList<>();
        for (int start = 0; start < queries.size(); start += ROWS_PER_BATCH) {
            scores.addAll(scoreBatch(queries.subList(start, Math.min(queries.size(), start + ROWS_PER_BATCH))));
        }
        return scores;
    }

    private List<Score> scoreBatch(List<Query> queries) {
        List<int[]> rows = new ArrayList<>();
        List<int[]> continuations = new ArrayList<>();
        List<Integer> promptLengths = new ArrayList<>();
        for (Query query : queries) {
            int[] prompt = PromptTokens.prompt(model.tokenizer(), query.prompt());
            int[] continuation = PromptTokens.target(model.tokenizer(), query.prompt(), query.continuation());
            rows.add(PromptTokens.concat(prompt, continuation));
            continuations.add(continuation);
            promptLengths.add(prompt.length);
        }
        // Logits only at the positions that predict a continuation token, row after row.
        int pairs = continuations.stream().mapToInt(c -> c.length).sum();
        int[] logitRows = new int[pairs];
        int[] logitPositions = new int[pairs];
        int pair = 0;
        for (int r = 0; r < queries.size(); r++) {
            for (int t = 0; t < continuations.get(r).length; t++) {
                logitRows[pair] = r;
                logitPositions[pair++] = promptLengths.get(r) - 1 + t;
            }
        }
        List<Score> scores = new ArrayList<>();
        try (NDManager scope = manager.newSubManager()) {
            Probe atContinuations = Probe.none().logitsAt(logitRows, logitPositions);
            NDArray logProbs = model.forward(scope, TokenBatch.of(rows), atContinuations).logits().logSoftmax(-1);
            int first = 0;
            for (int r = 0; r < queries.size(); r++) {
                int[] continuation = continuations.get(r);
                NDArray span = logProbs.get(new NDIndex("{}:{}", first, first + continuation.length));
                first += continuation.length;
                float[] values = span.toFloatArray();
                int[] predicted = span.argMax(-1).toType(DataType.INT32, false).toIntArray();
                int vocab = (int) span.getShape().get(1);
                double nll = 0;
                int correct = 0;
                for (int t = 0; t < continuation.length; t++) {
                    nll -= values[t * vocab + continuation[t]];
                    correct += predicted[t] == continuation[t] ? 1 : 0;
                }
                scores.add(new Score(nll / continuation.length, (double) correct / continuation.length, predicted));
            }
        }
        return scores;
    }
}

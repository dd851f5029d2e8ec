package io.editstream.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.editstream.edit.PromptTokens;
import io.editstream.model.LanguageModel;
import io.editstream.model.Probe;
import io.editstream.model.TokenBatch;
import java.util.ArrayList;
import java.util.List;

/**
 * Locality against the unedited model: on prompts unrelated to the edits, the next-token distribution after
 * the prompt is compared with the one the unedited model gave (top-1 agreement and KL(P0 ‖ P)).
 */
public final class Locality {

    /** The unedited model's next-token log-probabilities after each prompt. */
    public record Reference(List<String> prompts, List<float[]> logProbs) {
        public Reference {
            prompts = List.copyOf(prompts);
            logProbs = List.copyOf(logProbs);
        }
    }

    /** @param topOneAgreement fraction of prompts whose top-1 token is unchanged; @param meanKl mean KL(P0 ‖ P) in nats */
    public record Result(double topOneAgreement, double meanKl) {
    }

    private Locality() {
    }

    public static Reference reference(LanguageModel unedited, NDManager manager, List<String> prompts) {
        return new Reference(prompts, nextTokenLogProbs(unedited, manager, prompts));
    }

    public static Result measure(LanguageModel model, NDManager manager, Reference reference) {
        List<float[]> now = nextTokenLogProbs(model, manager, reference.prompts());
        int agree = 0;
        double kl = 0;
        for (int i = 0; i < now.size(); i++) {
            float[] p0 = reference.logProbs().get(i);
            float[] p = now.get(i);
            agree += argMax(p0) == argMax(p) ? 1 : 0;
            for (int v = 0; v < p0.length; v++) {
                kl += Math.exp(p0[v]) * (p0[v] - p[v]);
            }
        }
        return new Result((double) agree / now.size(), kl / now.size());
    }

    /** Top-1 next token after each prompt. */
    public static int[] topOne(LanguageModel model, NDManager manager, List<String> prompts) {
        return nextTokenLogProbs(model, manager, prompts).stream().mapToInt(Locality::argMax).toArray();
    }

    private static List<float[]> nextTokenLogProbs(LanguageModel model, NDManager manager, List<String> prompts) {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("locality needs at least one prompt");
        }
        List<float[]> out = new ArrayList<>();
        try (NDManager scope = manager.newSubManager()) {
            List<int[]> rows = prompts.stream().map(p -> PromptTokens.prompt(model.tokenizer(), p)).toList();
            TokenBatch batch = TokenBatch.of(rows);
            NDArray logits = model.forward(scope, batch, Probe.none()).logits();
            int[] last = batch.lastPositions();
            for (int r = 0; r < rows.size(); r++) {
                out.add(logits.get(new NDIndex(r, last[r])).logSoftmax(-1).toFloatArray());
            }
        }
        return out;
    }

    private static int argMax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }
}

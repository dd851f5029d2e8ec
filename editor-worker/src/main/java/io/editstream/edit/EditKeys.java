package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import io.editstream.model.Probe;
import io.editstream.model.TextTokenizer;
import io.editstream.model.TokenBatch;
import java.util.ArrayList;
import java.util.List;

/**
 * The keys k of a batch of edits at one layer: the MLP key at the last subject token, averaged over the
 * context prefixes so the edit fires whatever text precedes the prompt.
 */
final class EditKeys {

    private EditKeys() {
    }

    /** @return K {@code [mlpDim, requests]}, attached to {@code scope} */
    static NDArray compute(NDManager scope, LanguageModel model, List<EditRequest> requests,
                           List<String> contextPrefixes, int layer) {
        TextTokenizer tokenizer = model.tokenizer();
        List<int[]> rows = new ArrayList<>();
        int[] positions = new int[requests.size() * contextPrefixes.size()];
        int row = 0;
        for (EditRequest request : requests) {
            for (String prefix : contextPrefixes) {
                rows.add(PromptTokens.prompt(tokenizer, prefix + request.filledPrompt()));
                positions[row++] = PromptTokens.lastSubjectPosition(tokenizer, prefix + request.throughSubject());
            }
        }
        NDArray keys = model.forward(scope, TokenBatch.of(rows), Probe.none().captureMlpKeys(layer)).mlpKey(layer);
        NDArray atSubject = PromptTokens.atPositions(scope, keys, positions);
        return atSubject.reshape(requests.size(), contextPrefixes.size(), -1).mean(new int[] {1}).transpose();
    }

    /**
     * The residual stream after {@code layer} at the last subject token of each bare prompt: the h_L that
     * the target z is compared against.
     *
     * @return {@code [dim, requests]}, attached to {@code scope}
     */
    static NDArray residualAtSubject(NDManager scope, LanguageModel model, List<EditRequest> requests, int layer) {
        TextTokenizer tokenizer = model.tokenizer();
        List<int[]> rows = new ArrayList<>();
        int[] positions = new int[requests.size()];
        for (int r = 0; r < requests.size(); r++) {
            rows.add(PromptTokens.prompt(tokenizer, requests.get(r).filledPrompt()));
            positions[r] = PromptTokens.lastSubjectPosition(tokenizer, requests.get(r).throughSubject());
        }
        NDArray residual = model.forward(scope, TokenBatch.of(rows), Probe.none().captureResidual(layer)).residual(layer);
        return PromptTokens.atPositions(scope, residual, positions).transpose();
    }
}

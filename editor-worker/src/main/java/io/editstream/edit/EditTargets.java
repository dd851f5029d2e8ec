package io.editstream.edit;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
import io.editstream.model.ForwardResult;
import io.editstream.model.GraphConstants;
import io.editstream.model.LanguageModel;
import io.editstream.model.Probe;
import io.editstream.model.TextTokenizer;
import io.editstream.model.TokenBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The target residual z = h_L + δ of one edit: δ, added after the last edit layer at the last subject
 * token, is optimised with Adam so the model continues the prompt with target_new, while a KL term keeps
 * P(· | "{subject} is a") where the unedited model had it (the subject stays what it was) and weight decay
 * plus a norm clamp keep δ small relative to h_L.
 */
final class EditTargets {

    private static final Logger log = LoggerFactory.getLogger(EditTargets.class);
    private static final double BETA1 = 0.9;
    private static final double BETA2 = 0.999;
    private static final double EPSILON = 1e-8;

    /** z of one request and what the optimisation reached. */
    record Target(float[] z, double initialNll, double finalNll, int steps) {
    }

    private EditTargets() {
    }

    static Target compute(NDManager manager, LanguageModel model, EditRequest request, List<String> contextPrefixes,
                          int layer, EditHyperparameters.Target settings) {
        TextTokenizer tokenizer = model.tokenizer();
        int[] targetIds = PromptTokens.target(tokenizer, request.filledPrompt(), request.targetNew());

        // Rows: the prompt behind every context prefix, teacher-forced with the target minus its last token;
        // then the KL prompt as the last row.
        List<int[]> rows = new ArrayList<>();
        List<Integer> lookups = new ArrayList<>();
        List<long[]> predictions = new ArrayList<>();   // (row, position, token) for each target token
        for (String prefix : contextPrefixes) {
            int[] prompt = PromptTokens.prompt(tokenizer, prefix + request.filledPrompt());
            int row = rows.size();
            rows.add(PromptTokens.concat(prompt, Arrays.copyOf(targetIds, targetIds.length - 1)));
            lookups.add(PromptTokens.lastSubjectPosition(tokenizer, prefix + request.throughSubject()));
            for (int t = 0; t < targetIds.length; t++) {
                predictions.add(new long[] {row, prompt.length - 1 + t, targetIds[t]});
            }
        }
        int klRow = rows.size();
        int[] klPrompt = PromptTokens.prompt(tokenizer, request.subject() + " is a");
        rows.add(klPrompt);
        lookups.add(PromptTokens.lastSubjectPosition(tokenizer, request.subject()));
        TokenBatch batch = TokenBatch.of(rows);
        int[] positions = lookups.stream().mapToInt(Integer::intValue).toArray();

        // Logits only where the loss reads them: each target token, then the KL prompt's last position.
        int predictedCount = predictions.size();
        int[] logitRows = new int[predictedCount + 1];
        int[] logitPositions = new int[predictedCount + 1];
        for (int i = 0; i < predictedCount; i++) {
            logitRows[i] = (int) predictions.get(i)[0];
            logitPositions[i] = (int) predictions.get(i)[1];
        }
        logitRows[predictedCount] = klRow;
        logitPositions[predictedCount] = klPrompt.length - 1;

        try (NDManager scope = manager.newSubManager()) {
            NDArray tokenIndex = GraphConstants.indices(scope, predictions.stream().mapToInt(p -> (int) p[2]).toArray()).reshape(-1, 1);
            // Mean over target tokens within a prompt, then over prompts.
            NDArray tokenWeight = scope.full(tokenIndex.getShape(), 1f / (targetIds.length * contextPrefixes.size()));
            NDIndex predicted = new NDIndex(":" + predictedCount);

            Probe logitsOnly = Probe.none().logitsAt(logitRows, logitPositions);
            ForwardResult initial = model.forward(scope, batch, logitsOnly.captureResidual(layer));
            NDArray lookupResidual = initial.residual(layer);
            NDArray hidden = lookupResidual.get(new NDIndex(0, positions[0]));
            NDArray klInitial = initial.logits().get(predictedCount).logSoftmax(-1);
            double hiddenNorm = hidden.norm().getFloat();
            double maxNorm = settings.clampNormFactor() * hiddenNorm;

            NDArray delta = scope.zeros(hidden.getShape());
            delta.setRequiresGradient(true);
            NDArray firstMoment = scope.zeros(hidden.getShape());
            NDArray secondMoment = scope.zeros(hidden.getShape());
            double initialNll = Double.NaN;
            double nll = Double.NaN;
            int step = 0;
            while (step < settings.steps()) {
                step++;
                NDArray gradient;
                try (NDManager stepScope = scope.newSubManager();
                     GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    // blocks up to the edit layer do not see δ (it is added after them): resume above them
                    Probe resumed = logitsOnly.resumeAfter(layer, lookupResidual).addToResidual(layer, delta, positions);
                    NDArray logProbs = model.forward(stepScope, batch, resumed).logits().logSoftmax(-1);
                    NDArray nllLoss = logProbs.get(predicted).gather(tokenIndex, 1).mul(tokenWeight).sum().neg();
                    NDArray klLoss = klInitial.exp().mul(klInitial.sub(logProbs.get(predictedCount))).sum().mul(GraphConstants.scalar(stepScope, (float) settings.klFactor()));
                    NDArray decay = delta.square().sum().mul(GraphConstants.scalar(stepScope,
                            (float) (settings.weightDecay() / (hiddenNorm * hiddenNorm))));
                    NDArray loss = nllLoss.add(klLoss).add(decay);
                    nll = nllLoss.getFloat();
                    if (step == 1) {
                        initialNll = nll;
                    }
                    if (nll < settings.earlyStopNll()) {
                        break;
                    }
                    collector.backward(loss);
                    gradient = delta.getGradient().duplicate();
                    gradient.attach(scope);
                }
                // Adam, by hand: the gradient of δ is zeroed below so the next step starts clean.
                firstMoment = firstMoment.mul(BETA1).add(gradient.mul(1 - BETA1));
                secondMoment = secondMoment.mul(BETA2).add(gradient.square().mul(1 - BETA2));
                NDArray corrected = firstMoment.div(1 - Math.pow(BETA1, step));
                NDArray scale = secondMoment.div(1 - Math.pow(BETA2, step)).sqrt().add(EPSILON);
                delta.subi(corrected.div(scale).mul(settings.learningRate()));
                double norm = delta.norm().getFloat();
                if (norm > maxNorm) {
                    delta.muli(maxNorm / norm);
                }
                delta.getGradient().set(new float[(int) delta.size()]);
            }
            log.debug("target for '{}' -> '{}': NLL {} -> {} in {} steps, |δ|/|h| = {}", request.filledPrompt(),
                    request.targetNew(), initialNll, nll, step, delta.norm().getFloat() / hiddenNorm);
            float[] z = hidden.add(delta).toFloatArray();
            return new Target(z, initialNll, nll, step);
        }
    }
}

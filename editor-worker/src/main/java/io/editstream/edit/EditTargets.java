package io.editstream.edit;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
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
 * The target residual z = h_L + δ of each edit: δ, added after the last edit layer at the last subject
 * token, is optimised with Adam so the model continues the prompt with target_new, while a KL term keeps
 * P(· | "{subject} is a") where the unedited model had it (the subject stays what it was) and weight decay
 * plus a norm clamp keep δ small relative to h_L.
 *
 * <p>The requests of a call are optimised together, one δ each, in one forward and backward pass per step: each δ
 * reaches only its own rows, so its gradient, its Adam moments, its clamp and its early stop are those of optimising
 * it alone, while the small per-step passes that dominate the cost are shared. Requests that stopped leave the passes
 * (once half of a pass has), so a batch costs about what its requests' own steps cost, not its slowest one's.

 */
final class EditTargets {

    private static final Logger log = LoggerFactory.getLogger(EditTargets.class);
    private static final double BETA1 = 0.9;
    private static final double BETA2 = 0.999;
    private static final double EPSILON = 1e-8;

    /** z of one request, the h_L it was optimised from (z − h = δ), and what the optimisation reached. */
    record Target(float[] z, float[] hidden, double initialNll, double finalNll, int steps) {
    }

    private EditTargets() {
    }

    /** The prompt whose next-token distribution the KL term keeps as it was: the subject stays what it was. */
    static String subjectPrompt(EditRequest request) {
        return request.subject() + " is a";
    }

    /** The targets of {@code requests}, in their order. */
    static List<Target> compute(NDManager manager, LanguageModel model, List<EditRequest> requests, List<String> contextPrefixes,
                                int layer, EditHyperparameters.Target settings) {
        int count = requests.size();
        int dim = model.config().dim();
        Optimisation state = new Optimisation(count, dim);
        List<Integer> active = new ArrayList<>();
        for (int r = 0; r < count; r++) {
            active.add(r);
        }
        // Requests that stopped leave the passes: once half of those in a pass are done, the rest go on in a smaller one
        while (state.step < settings.steps() && !active.isEmpty()) {
            optimise(manager, model, requests, active, contextPrefixes, layer, settings, state);
            active = active.stream().filter(r -> !state.done[r]).toList();
        }
        List<Target> targets = new ArrayList<>();
        for (int r = 0; r < count; r++) {
            float[] z = new float[dim];
            double deltaNorm = 0;
            for (int i = 0; i < dim; i++) {
                float d = state.delta[r][i];
                z[i] = state.hidden[r][i] + d;
                deltaNorm += (double) d * d;
            }
            log.debug("target for '{}' -> '{}': NLL {} -> {} in {} steps, |δ|/|h| = {}", requests.get(r).filledPrompt(),
                    requests.get(r).targetNew(), state.initialNll[r], state.nll[r], state.steps[r], Math.sqrt(deltaNorm) / state.hiddenNorm[r]);
            targets.add(new Target(z, state.hidden[r].clone(), state.initialNll[r], state.nll[r], state.steps[r]));
        }
        return targets;
    }

    /** Where each request's optimisation stands between passes: its δ, its Adam moments, its NLL and whether it stopped. */
    private static final class Optimisation {
        final float[][] hidden;
        final double[] hiddenNorm;
        final float[][] delta;
        final float[][] firstMoment;
        final float[][] secondMoment;
        final double[] initialNll;
        final double[] nll;
        final int[] steps;
        final boolean[] done;
        /** Adam steps taken so far, the same for every request still going (all start together) */
        int step;

        Optimisation(int count, int dim) {
            hidden = new float[count][dim];
            hiddenNorm = new double[count];
            delta = new float[count][dim];
            firstMoment = new float[count][dim];
            secondMoment = new float[count][dim];
            initialNll = new double[count];
            nll = new double[count];
            steps = new int[count];
            done = new boolean[count];
        }
    }

    /**
     * Steps the requests {@code active} (indices into {@code requests}) together, from where {@code state} left them,
     * until all stop, the step budget is spent, or half of them stopped.
     */
    private static void optimise(NDManager manager, LanguageModel model, List<EditRequest> requests, List<Integer> active,
                                 List<String> contextPrefixes, int layer, EditHyperparameters.Target settings,
                                 Optimisation state) {
        TextTokenizer tokenizer = model.tokenizer();
        int count = active.size();
        // Rows per request: the prompt behind every context prefix, teacher-forced with the target minus its last
        // token; the KL prompts of all requests follow as the last rows.
        List<int[]> rows = new ArrayList<>();
        List<Integer> lookups = new ArrayList<>();
        List<Integer> rowOwner = new ArrayList<>();
        int[] firstRow = new int[count];
        List<long[]> predictions = new ArrayList<>();   // (request, row, position, token) for each target token
        List<Float> predictionWeights = new ArrayList<>();
        for (int r = 0; r < count; r++) {
            EditRequest request = requests.get(active.get(r));
            int[] targetIds = PromptTokens.target(tokenizer, request.filledPrompt(), request.targetNew());
            firstRow[r] = rows.size();
            for (String prefix : contextPrefixes) {
                int[] prompt = PromptTokens.prompt(tokenizer, prefix + request.filledPrompt());
                int row = rows.size();
                rows.add(PromptTokens.concat(prompt, Arrays.copyOf(targetIds, targetIds.length - 1)));
                lookups.add(PromptTokens.lastSubjectPosition(tokenizer, prefix + request.throughSubject()));
                rowOwner.add(r);
                for (int t = 0; t < targetIds.length; t++) {
                    predictions.add(new long[] {r, row, prompt.length - 1 + t, targetIds[t]});
                    // mean over target tokens within a prompt, then over prompts
                    predictionWeights.add(1f / (targetIds.length * contextPrefixes.size()));
                }
            }
        }
        int klFirstRow = rows.size();
        int[] klLastPositions = new int[count];
        for (int r = 0; r < count; r++) {
            EditRequest request = requests.get(active.get(r));
            int[] klPrompt = PromptTokens.prompt(tokenizer, subjectPrompt(request));
            rows.add(klPrompt);
            lookups.add(PromptTokens.lastSubjectPosition(tokenizer, request.subject()));
            rowOwner.add(r);
            klLastPositions[r] = klPrompt.length - 1;
        }
        TokenBatch batch = TokenBatch.of(rows);
        int[] positions = lookups.stream().mapToInt(Integer::intValue).toArray();

        // Logits only where the loss reads them: each target token, then each KL prompt's last position.
        int predictedCount = predictions.size();
        int[] logitRows = new int[predictedCount + count];
        int[] logitPositions = new int[predictedCount + count];
        float[] tokenOwner = new float[count * predictedCount];
        for (int i = 0; i < predictedCount; i++) {
            long[] p = predictions.get(i);
            logitRows[i] = (int) p[1];
            logitPositions[i] = (int) p[2];
            tokenOwner[(int) p[0] * predictedCount + i] = predictionWeights.get(i);
        }
        for (int r = 0; r < count; r++) {
            logitRows[predictedCount + r] = klFirstRow + r;
            logitPositions[predictedCount + r] = klLastPositions[r];
        }
        float[] rowOfRequest = new float[rows.size() * count];
        for (int row = 0; row < rows.size(); row++) {
            rowOfRequest[row * count + rowOwner.get(row)] = 1f;
        }

        try (NDManager scope = manager.newSubManager()) {
            NDArray tokenIndex = GraphConstants.indices(scope, predictions.stream().mapToInt(p -> (int) p[3]).toArray()).reshape(-1, 1);
            // [requests, predicted]: the weight of each target token in its own request's NLL, 0 for the others'
            NDArray tokenWeights = GraphConstants.of(scope, tokenOwner, new Shape(count, predictedCount));
            // [rows, requests]: one-hot owner of each row, so every row gets its own request's δ
            NDArray spread = GraphConstants.of(scope, rowOfRequest, new Shape(rows.size(), count));
            NDIndex predicted = new NDIndex(":" + predictedCount);
            NDIndex klLogits = new NDIndex(predictedCount + ":");

            // the unedited model: the same h and KL reference in every pass
            Probe logitsOnly = Probe.none().logitsAt(logitRows, logitPositions);
            ForwardResult initial = model.forward(scope, batch, logitsOnly.captureResidual(layer));
            NDArray lookupResidual = initial.residual(layer);
            int dim = model.config().dim();
            float[] maxNorm = new float[count];
            float[] decayWeight = new float[count];
            float[] startDelta = new float[count * dim];
            float[] startFirst = new float[count * dim];
            float[] startSecond = new float[count * dim];
            for (int r = 0; r < count; r++) {
                int request = active.get(r);
                NDArray h = lookupResidual.get(new NDIndex(firstRow[r], positions[firstRow[r]]));
                state.hidden[request] = h.toFloatArray();
                state.hiddenNorm[request] = h.norm().getFloat();
                maxNorm[r] = (float) (settings.clampNormFactor() * state.hiddenNorm[request]);
                decayWeight[r] = (float) (settings.weightDecay() / (state.hiddenNorm[request] * state.hiddenNorm[request]));
                System.arraycopy(state.delta[request], 0, startDelta, r * dim, dim);
                System.arraycopy(state.firstMoment[request], 0, startFirst, r * dim, dim);
                System.arraycopy(state.secondMoment[request], 0, startSecond, r * dim, dim);
            }
            NDArray klInitial = initial.logits().get(klLogits).logSoftmax(-1);
            NDArray klFactor = GraphConstants.scalar(scope, (float) settings.klFactor());
            NDArray decayWeights = GraphConstants.of(scope, decayWeight, new Shape(count));

            Shape shape = new Shape(count, dim);
            NDArray delta = scope.create(startDelta, shape);
            delta.setRequiresGradient(true);
            NDArray firstMoment = scope.create(startFirst, shape);
            NDArray secondMoment = scope.create(startSecond, shape);
            int remaining = count;
            while (state.step < settings.steps() && remaining > count / 2) {
                int step = ++state.step;
                NDArray gradient;
                try (NDManager stepScope = scope.newSubManager();
                     GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    // blocks up to the edit layer do not see δ (it is added after them): resume above them
                    NDArray added = spread.matMul(delta);
                    Probe resumed = logitsOnly.resumeAfter(layer, lookupResidual).addToResidual(layer, added, positions);
                    NDArray logProbs = model.forward(stepScope, batch, resumed).logits().logSoftmax(-1);
                    NDArray picked = logProbs.get(predicted).gather(tokenIndex, 1);
                    NDArray nllLoss = tokenWeights.matMul(picked).reshape(count).neg();
                    NDArray klLoss = klInitial.exp().mul(klInitial.sub(logProbs.get(klLogits))).sum(new int[] {1}).mul(klFactor);
                    NDArray decay = delta.square().sum(new int[] {1}).mul(decayWeights);
                    NDArray loss = nllLoss.add(klLoss).add(decay).sum();
                    float[] nlls = nllLoss.toFloatArray();
                    for (int r = 0; r < count; r++) {
                        int request = active.get(r);
                        if (state.done[request]) {
                            continue;
                        }
                        state.nll[request] = nlls[r];
                        if (step == 1) {
                            state.initialNll[request] = nlls[r];
                        }
                        state.steps[request] = step;
                        if (nlls[r] < settings.earlyStopNll()) {
                            state.done[request] = true;
                            remaining--;
                        }
                    }
                    if (remaining == 0) {
                        break;
                    }
                    collector.backward(loss);
                    gradient = delta.getGradient().duplicate();
                    gradient.attach(scope);
                }
                // Adam, by hand: the gradient of δ is zeroed below so the next step starts clean. A request that
                // reached its NLL keeps its δ as it was when it did.
                firstMoment = firstMoment.mul(BETA1).add(gradient.mul(1 - BETA1));
                secondMoment = secondMoment.mul(BETA2).add(gradient.square().mul(1 - BETA2));
                NDArray corrected = firstMoment.div(1 - Math.pow(BETA1, step));
                NDArray scale = secondMoment.div(1 - Math.pow(BETA2, step)).sqrt().add(EPSILON);
                float[] going = new float[count];
                for (int r = 0; r < count; r++) {
                    going[r] = state.done[active.get(r)] ? 0f : 1f;
                }
                delta.subi(corrected.div(scale).mul(settings.learningRate()).mul(scope.create(going, new Shape(count, 1))));
                float[] norms = delta.norm(new int[] {1}).toFloatArray();
                float[] clamp = new float[count];
                for (int r = 0; r < count; r++) {
                    clamp[r] = going[r] == 1f && norms[r] > maxNorm[r] ? maxNorm[r] / norms[r] : 1f;
                }
                delta.muli(scope.create(clamp, new Shape(count, 1)));
                delta.getGradient().set(new float[(int) delta.size()]);
            }
            float[] deltas = delta.toFloatArray();
            float[] firsts = firstMoment.toFloatArray();
            float[] seconds = secondMoment.toFloatArray();
            for (int r = 0; r < count; r++) {
                int request = active.get(r);
                System.arraycopy(deltas, r * dim, state.delta[request], 0, dim);
                System.arraycopy(firsts, r * dim, state.firstMoment[request], 0, dim);
                System.arraycopy(seconds, r * dim, state.secondMoment[request], 0, dim);
            }
        }
    }
}

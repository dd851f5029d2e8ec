package io.editstream.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the editors rely on: captures, injections, gradients through a residual delta, and MLP weight edits. */
class ProbeTest {

    @Test
    void capturesHaveTheDocumentedShapes() throws Exception {
        try (LanguageModel model = TestModels.stories260k(); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            ModelConfig c = model.config();
            TokenBatch batch = TokenBatch.of(model.tokenizer().encode("Lily liked cake.", true), model.tokenizer().encode("Tom", true));
            ForwardResult result = model.forward(manager, batch, Probe.none().captureMlpKeys(1, 3).captureResidual(2));
            assertEquals(new Shape(2, batch.maxLength(), c.mlpDim()), result.mlpKey(1).getShape());
            assertEquals(new Shape(2, batch.maxLength(), c.mlpDim()), result.mlpKey(3).getShape());
            assertEquals(new Shape(2, batch.maxLength(), c.dim()), result.residual(2).getShape());
            assertThrows(IllegalArgumentException.class, () -> result.mlpKey(0));
            assertThrows(IllegalArgumentException.class,
                    () -> model.forward(manager, batch, Probe.none().captureResidual(c.layers())));
        }
    }

    @Test
    void residualDeltaIsAddedAtItsPositionAndOnlyAffectsLaterPositions() throws Exception {
        try (LanguageModel model = TestModels.stories260k(); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            int layer = 2;
            int[] tokens = model.tokenizer().encode("Once upon a time there was a cat.", true);
            int position = 4;
            TokenBatch batch = TokenBatch.of(tokens);
            NDArray delta = manager.randomNormal(new Shape(model.config().dim()));
            ForwardResult plain = model.forward(manager, batch, Probe.none().captureResidual(layer));
            ForwardResult pushed = model.forward(manager, batch,
                    Probe.none().captureResidual(layer).addToResidual(layer, delta, new int[] {position}));

            NDArray change = pushed.residual(layer).sub(plain.residual(layer)).get(0);
            assertArrayEquals(delta.toFloatArray(), change.get(position).toFloatArray(), 1e-5f);
            assertEquals(0f, change.get(":{}", position).abs().max().getFloat(), 0f);
            assertEquals(0f, change.get("{}:", position + 1).abs().max().getFloat(), 0f);
            // causality: logits before the position are untouched, after it they move
            NDArray logitChange = pushed.logits().sub(plain.logits()).get(0).abs().max(new int[] {1});
            assertEquals(0f, logitChange.get(":{}", position).max().getFloat(), 0f);
            assertTrue(logitChange.get("{}:", position).min().getFloat() > 0f);
        }
    }

    @Test
    void mlpOverrideReplacesTheMlpOutputAtItsPosition() throws Exception {
        try (LanguageModel model = TestModels.stories260k(); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            int last = model.config().layers() - 1;
            int[] tokens = model.tokenizer().encode("The dog ran.", true);
            TokenBatch batch = TokenBatch.of(tokens);
            ForwardResult plain = model.forward(manager, batch, Probe.none().captureMlpKeys(last).captureResidual(last - 1, last));
            // residual(last) = residual(last-1) + attention(last) + W k: replacing W k by v moves residual(last) by v - W k
            NDArray w = model.mlpOutputWeight(manager, last);
            NDArray key = plain.mlpKey(last).get(0, 1);
            NDArray mlpOut = w.matMul(key);
            NDArray replacement = manager.zeros(new Shape(model.config().dim()));
            ForwardResult replaced = model.forward(manager, batch,
                    Probe.none().captureResidual(last).replaceMlpOutput(last, replacement, new int[] {1}));
            NDArray change = replaced.residual(last).sub(plain.residual(last)).get(0, 1);
            assertArrayEquals(mlpOut.neg().toFloatArray(), change.toFloatArray(), 1e-4f);
        }
    }

    @Test
    void resumingAboveALayerWithLogitPositionsGivesTheFullPassValuesAndGradient() throws Exception {
        try (LanguageModel llama = TestModels.stories260k(); LanguageModel gpt2 = TestModels.randomGpt2(4)) {
            assertResumeMatchesFullPass(llama, 1);
            // the random GPT-2 has two blocks: resume above the first so attention carries the delta onwards
            assertResumeMatchesFullPass(gpt2, 0);
        }
    }

    @Test
    void resumeAndLogitPositionsRejectWhatTheyCannotServe() throws Exception {
        try (LanguageModel model = TestModels.stories260k(); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            TokenBatch batch = TokenBatch.of(model.tokenizer().encode("Lily liked cake.", true), model.tokenizer().encode("Tom", true));
            NDArray residual = model.forward(manager, batch, Probe.none().captureResidual(2)).residual(2);
            Probe resumed = Probe.none().resumeAfter(2, residual);
            assertThrows(IllegalArgumentException.class, () -> model.forward(manager, batch, resumed.captureMlpKeys(2)));
            assertThrows(IllegalArgumentException.class, () -> model.forward(manager, batch, resumed.captureResidual(1)));
            assertThrows(IllegalArgumentException.class,
                    () -> model.forward(manager, batch, Probe.none().resumeAfter(2, residual.get("0:1"))));
            // row 1 ("Tom") is shorter than the batch: its padding has no logits to ask for
            assertThrows(IllegalArgumentException.class,
                    () -> model.forward(manager, batch, Probe.none().logitsAt(new int[] {1}, new int[] {batch.length(1)})));
            assertThrows(IllegalArgumentException.class, () -> Probe.none().logitsAt(new int[] {0, 1}, new int[] {0}));
        }
    }

    /**
     * A pass resumed above {@code layer} from the residual a full pass captured there, with a delta added at that
     * layer and logits at a few positions, gives the full pass's logits at those positions and the same gradient.
     */
    private static void assertResumeMatchesFullPass(LanguageModel model, int layer) {
        TextTokenizer tokenizer = model.tokenizer();
        TokenBatch batch = TokenBatch.of(tokenizer.encode("Once upon a time there was a cat.", true), tokenizer.encode("The dog ran.", true));
        int[] deltaAt = {3, 2};
        int[] rows = {0, 0, 1};
        int[] positions = {batch.length(0) - 1, 4, batch.length(1) - 1};
        String family = model.config().architecture();
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            NDArray residual = model.forward(manager, batch, Probe.none().captureResidual(layer)).residual(layer);
            NDArray delta = manager.randomNormal(new Shape(model.config().dim())).mul(0.5f);
            delta.setRequiresGradient(true);
            float[][] logits = new float[2][];
            float[][] gradients = new float[2][];
            Probe[] probes = {
                    Probe.none().addToResidual(layer, delta, deltaAt),
                    Probe.none().resumeAfter(layer, residual).addToResidual(layer, delta, deltaAt).logitsAt(rows, positions)};
            for (int p = 0; p < probes.length; p++) {
                try (NDManager scope = manager.newSubManager(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDArray all = model.forward(scope, batch, probes[p]).logits();
                    NDArray selected = p == 0 ? all.get(new NDIndex("{}, {}",
                            scope.create(new long[] {rows[0], rows[1], rows[2]}), scope.create(new long[] {positions[0], positions[1], positions[2]}))) : all;
                    assertEquals(new Shape(rows.length, model.config().vocabSize()), selected.getShape(), family);
                    logits[p] = selected.toFloatArray();
                    reuseFreedBuffers(scope);
                    collector.backward(selected.logSoftmax(-1).get(":, 7").sum().neg());
                    gradients[p] = delta.getGradient().toFloatArray();
                    delta.getGradient().set(new float[(int) delta.size()]);
                }
            }
            assertArrayEquals(logits[0], logits[1], 1e-4f, family + " logits");
            assertArrayEquals(gradients[0], gradients[1], 1e-4f, family + " gradient");
            double largest = 0;
            for (float g : gradients[0]) {
                largest = Math.max(largest, Math.abs(g));
            }
            assertTrue(largest > 0, family + ": the gradient reached the delta");
        }
    }

    /**
     * Frees released Java buffers and fills fresh ones with large values between forward and backward: a graph that kept a
     * tensor over a Java buffer the pass already released would now read these values (and index far out of range).
     */
    private static void reuseFreedBuffers(NDManager manager) {
        // a direct buffer's memory goes back to malloc when the collector finds the buffer unreachable
        System.gc();
        System.gc();
        for (int i = 0; i < 2_000; i++) {
            long[] junk = new long[1 + i % 16];
            java.util.Arrays.fill(junk, 140_000_000_000_000L);
            manager.create(junk);
        }
    }

    @Test
    void gradientThroughResidualDeltaMatchesFiniteDifferencesLlama() throws Exception {
        try (LanguageModel model = TestModels.stories260k()) {
            assertGradientMatchesFiniteDifferences(model, 2, "Lily went to the park with her mom.");
        }
    }

    @Test
    void gradientThroughResidualDeltaMatchesFiniteDifferencesGpt2() throws Exception {
        try (LanguageModel model = TestModels.randomGpt2(3)) {
            assertGradientMatchesFiniteDifferences(model, 0, "The capital of France is Paris");
        }
    }

    @Test
    void rankOneEditOfTheMlpOutputMovesTheLastResidualByAFactorTimesTheKey() throws Exception {
        try (LanguageModel llama = TestModels.stories260k(); LanguageModel gpt2 = TestModels.randomGpt2(5)) {
            for (LanguageModel model : new LanguageModel[] {llama, gpt2}) {
                assertRankOneEditActsOnKeys(model);
            }
        }
    }

    @Test
    void setMlpOutputWeightRoundTripsAndEditsChangeTheHash() throws Exception {
        try (LanguageModel model = TestModels.randomGpt2(9); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            String before = model.weightsSha256();
            NDArray w = model.mlpOutputWeight(manager, 1);
            assertEquals(new Shape(model.config().dim(), model.config().mlpDim()), w.getShape());
            model.setMlpOutputWeight(1, w.add(1f));
            String edited = model.weightsSha256();
            assertTrue(!edited.equals(before));
            model.setMlpOutputWeight(1, w);
            assertEquals(before, model.weightsSha256());
            assertThrows(IllegalArgumentException.class, () -> model.setMlpOutputWeight(1, w.transpose()));
        }
    }

    /** W += a bᵀ changes the MLP output at every position by a (b·k): with the last layer, residual and MLP output coincide. */
    private static void assertRankOneEditActsOnKeys(LanguageModel model) {
        int last = model.config().layers() - 1;
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            TokenBatch batch = TokenBatch.of(model.tokenizer().encode("A small test sentence", true));
            ForwardResult before = model.forward(manager, batch, Probe.none().captureMlpKeys(last).captureResidual(last));
            NDArray a = manager.randomNormal(new Shape(model.config().dim())).mul(0.01f);
            NDArray b = manager.randomNormal(new Shape(model.config().mlpDim()));
            model.addToMlpOutputWeight(last, a, b);
            ForwardResult after = model.forward(manager, batch, Probe.none().captureResidual(last));
            NDArray expected = before.mlpKey(last).get(0).matMul(b.reshape(-1, 1)).mul(a.reshape(1, -1));
            NDArray actual = after.residual(last).sub(before.residual(last)).get(0);
            assertArrayEquals(expected.toFloatArray(), actual.toFloatArray(), 1e-3f, model.config().architecture());
            model.addToMlpOutputWeight(last, a.neg(), b);
        }
    }

    /**
     * loss = -log softmax(logits at the last position)[target] with the delta injected at an earlier position;
     * the autograd gradient matches central differences along the gradient itself and along the three coordinates
     * of largest gradient. (Directions with a large slope keep float32 rounding of the loss, about 1e-6 relative,
     * well below the 1e-2 tolerance.)
     */
    private static void assertGradientMatchesFiniteDifferences(LanguageModel model, int layer, String text) {
        int[] tokens = model.tokenizer().encode(text, true);
        int position = tokens.length / 2;
        int target = 42;
        TokenBatch batch = TokenBatch.of(tokens);
        int dim = model.config().dim();
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            Random random = new Random(1);
            float[] start = new float[dim];
            for (int i = 0; i < dim; i++) {
                start[i] = 0.1f * (float) random.nextGaussian();
            }
            NDArray delta = manager.create(start);
            delta.setRequiresGradient(true);
            float[] gradient;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray logits = model.forward(manager, batch, Probe.none().addToResidual(layer, delta, new int[] {position})).logits();
                NDArray loss = logits.get(0, tokens.length - 1).logSoftmax(0).get(target).neg();
                collector.backward(loss);
                gradient = delta.getGradient().toFloatArray();
            }
            double norm = 0;
            for (float g : gradient) {
                norm += g * g;
            }
            norm = Math.sqrt(norm);
            assertTrue(norm > 1e-3, "the gradient reached the delta: |g| = " + norm);

            float[] alongGradient = new float[dim];
            for (int i = 0; i < dim; i++) {
                alongGradient[i] = (float) (gradient[i] / norm);
            }
            assertSlope(model, manager, batch, layer, position, target, start, alongGradient, norm, "along the gradient");
            Integer[] order = new Integer[dim];
            for (int i = 0; i < dim; i++) {
                order[i] = i;
            }
            java.util.Arrays.sort(order, (x, y) -> Float.compare(Math.abs(gradient[y]), Math.abs(gradient[x])));
            for (int k = 0; k < 3; k++) {
                float[] unit = new float[dim];
                unit[order[k]] = 1f;
                assertSlope(model, manager, batch, layer, position, target, start, unit, gradient[order[k]], "coordinate " + order[k]);
            }
        }
    }

    private static void assertSlope(LanguageModel model, NDManager manager, TokenBatch batch, int layer, int position, int target,
                                    float[] start, float[] direction, double analytic, String what) {
        float h = 1e-2f;
        double numeric = (loss(model, manager, batch, layer, position, target, start, direction, h)
                - loss(model, manager, batch, layer, position, target, start, direction, -h)) / (2 * h);
        double error = Math.abs(numeric - analytic) / Math.abs(numeric);
        assertTrue(error < 1e-2, what + ": autograd " + analytic + " vs finite difference " + numeric + " (relative error " + error + ")");
    }

    private static double loss(LanguageModel model, NDManager manager, TokenBatch batch, int layer, int position, int target,
                               float[] start, float[] direction, float step) {
        try (NDManager scope = manager.newSubManager()) {
            float[] shifted = start.clone();
            for (int i = 0; i < shifted.length; i++) {
                shifted[i] += step * direction[i];
            }
            NDArray logits = model.forward(scope, batch,
                    Probe.none().addToResidual(layer, scope.create(shifted), new int[] {position})).logits();
            return -logits.get(0, batch.length(0) - 1).logSoftmax(0).getFloat(target);
        }
    }
}

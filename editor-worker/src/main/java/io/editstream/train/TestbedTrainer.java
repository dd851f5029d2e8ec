package io.editstream.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.editstream.model.ForwardResult;
import io.editstream.model.HuggingFaceTextTokenizer;
import io.editstream.model.LanguageModel;
import io.editstream.model.ModelConfig;
import io.editstream.model.ModelFormatException;
import io.editstream.model.Probe;
import io.editstream.model.TextTokenizer;
import io.editstream.model.TokenBatch;
import io.editstream.model.Weights;
import io.editstream.model.llama.LlamaModel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * Trains a testbed model from scratch on a list of facts: builds the word-level tokenizer from the facts' text,
 * initialises a seeded Llama, and runs AdamW on the token-weighted cross-entropy of whole sequences (the answer
 * weighted up). Single-threaded DJL on the CPU with a fixed seed gives the same weights for the same inputs.
 */
public final class TestbedTrainer {

    private static final Logger LOG = LoggerFactory.getLogger(TestbedTrainer.class);
    private static final double BETA1 = 0.9;
    private static final double BETA2 = 0.98;
    private static final double EPSILON = 1e-8;
    private static final double MAX_GRADIENT_NORM = 1.0;
    private static final int CHECK_SAMPLE = 200;

    private final TrainingSettings settings;
    private final Device device;

    public TestbedTrainer(TrainingSettings settings, Device device) {
        this.settings = settings;
        this.device = device;
    }

    /** A model that has learnt {@code facts}; the caller owns (and closes) it. */
    public LanguageModel train(List<Fact> facts) throws ModelFormatException {
        return train(facts, List.of());
    }

    /**
     * A model that has learnt {@code facts}, with a vocabulary that also holds the words of {@code wordsToSpell}:
     * never trained on, but an edit can write them (the new targets of the benchmark's edits).
     */
    public LanguageModel train(List<Fact> facts, Collection<String> wordsToSpell) throws ModelFormatException {
        List<String> vocabularyText = new ArrayList<>(facts.stream().map(Fact::text).toList());
        vocabularyText.addAll(wordsToSpell);
        String tokenizerJson = WordTokenizer.buildJson(vocabularyText);
        TextTokenizer tokenizer = HuggingFaceTextTokenizer.fromJson(tokenizerJson, "the testbed tokenizer",
                WordTokenizer.specialId(WordTokenizer.BOS), WordTokenizer.specialId(WordTokenizer.EOS));
        ModelConfig config = settings.shape().config(tokenizer.vocabSize());
        NDManager weightsManager = NDManager.newBaseManager(device);
        LanguageModel model;
        try {
            int unk = WordTokenizer.specialId(WordTokenizer.UNK);
            List<EncodedFact> encoded = new ArrayList<>();
            for (Fact fact : facts) {
                encoded.add(EncodedFact.of(fact, tokenizer, unk, config.maxSeqLen()));
            }
            Weights weights = InitialWeights.create(config, settings.seed(), weightsManager);
            model = new LlamaModel(config, weights, tokenizer);
            LOG.info("training {} ({} parameters) on {} facts ({} tokens), {} steps of {} sequences, activation L1 {}",
                    config, parameterCount(model), facts.size(), encoded.stream().mapToInt(EncodedFact::inputLength).sum(),
                    settings.steps(), settings.batchSize(), settings.activationL1());
            optimise(model, encoded, checkSample(facts));
        } catch (RuntimeException e) {
            tokenizer.close();
            weightsManager.close();
            throw e;
        }
        for (NDArray weight : model.weights().values()) {
            weight.setRequiresGradient(false);
        }
        return model;
    }

    private void optimise(LanguageModel model, List<EncodedFact> facts, List<Fact> sample) {
        LearningRateSchedule schedule = settings.schedule();
        FactBatches batches = new FactBatches(facts, settings.batchSize(), settings.seed());
        long start = System.nanoTime();
        long tokens = 0;
        double lossSum = 0;
        double normSum = 0;
        int applied = 0;
        int skipped = 0;
        try (NDManager scope = NDManager.newBaseManager(device);
             AdamW optimizer = new AdamW(new TreeMap<>(model.weights()), BETA1, BETA2, EPSILON, settings.weightDecay(), MAX_GRADIENT_NORM, scope)) {
            for (int step = 1; step <= settings.steps(); step++) {
                List<EncodedFact> batch = batches.next();
                float loss;
                try (NDManager stepScope = scope.newSubManager();
                     GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDArray value = loss(model, stepScope, batch);
                    collector.backward(value);
                    loss = value.getFloat();
                }
                double norm = optimizer.step(schedule.at(step));
                if (Double.isFinite(norm)) {
                    lossSum += loss;
                    normSum += norm;
                    applied++;
                } else {
                    skipped++;
                    LOG.warn("step {}: the gradient is not finite (loss {}); step skipped", step, loss);
                }
                tokens += batch.stream().mapToInt(EncodedFact::inputLength).sum();
                if (step % settings.logEvery() == 0 || step == settings.steps()) {
                    double seconds = (System.nanoTime() - start) / 1e9;
                    LOG.info(String.format("step %d/%d epoch %d loss %.4f |grad| %.3f lr %.2e %.0f tokens/s elapsed %.0fs ETA %.0fs%s",
                            step, settings.steps(), batches.epoch(), lossSum / applied, normSum / applied, schedule.at(step),
                            tokens / seconds, seconds, seconds / step * (settings.steps() - step),
                            skipped == 0 ? "" : " (" + skipped + " steps skipped so far)"));
                    lossSum = 0;
                    normSum = 0;
                    applied = 0;
                }
                if (settings.checkEvery() > 0 && (step % settings.checkEvery() == 0 || step == settings.steps())) {
                    LOG.info("step {}: recall on a sample of {} facts: {}", step, sample.size(), FactRecall.measure(model, sample, scope));
                }
            }
        }
    }

    /** Mean cross-entropy of the next token over the real positions, answer positions weighted up. */
    private NDArray loss(LanguageModel model, NDManager scope, List<EncodedFact> batch) {
        int rows = batch.size();
        int width = batch.stream().mapToInt(EncodedFact::inputLength).max().orElseThrow();
        List<int[]> inputs = new ArrayList<>();
        long[] targets = new long[rows * width];
        float[] weights = new float[rows * width];
        float[] real = new float[rows * width];
        int realCount = 0;
        for (int r = 0; r < rows; r++) {
            EncodedFact fact = batch.get(r);
            int[] tokens = fact.tokens();
            inputs.add(Arrays.copyOf(tokens, fact.inputLength()));
            for (int i = 0; i < fact.inputLength(); i++) {
                targets[r * width + i] = tokens[i + 1];
                weights[r * width + i] = i + 1 >= fact.answerStart() ? settings.answerWeight() : 1f;
                real[r * width + i] = 1f;
            }
            realCount += fact.inputLength();
        }
        int[] lookup = IntStream.range(0, settings.shape().lookupLayers()).toArray();
        boolean penalised = settings.activationL1() > 0;
        ForwardResult result = model.forward(scope, TokenBatch.of(inputs), penalised ? Probe.none().captureMlpKeys(lookup) : Probe.none());
        NDArray logits = result.logits();
        NDArray logProbs = logits.reshape(rows * (long) width, -1).logSoftmax(-1);
        NDArray picked = logProbs.gather(scope.create(targets, new Shape(rows * (long) width, 1)), 1).reshape(rows * (long) width);
        NDArray weight = scope.create(weights);
        float total = 0;
        for (float w : weights) {
            total += w;
        }
        // the divisor as an array of the step's scope: backward reads it after this method returns
        NDArray crossEntropy = picked.mul(weight).sum().div(scope.create(-total));
        if (!penalised) {
            return crossEntropy;
        }
        // mean |key| over the real positions (padding excluded) of every lookup block
        NDArray mask = scope.create(real, new Shape(rows, width, 1));
        NDArray penalty = null;
        for (int layer : lookup) {
            NDArray mean = result.mlpKey(layer).abs().mul(mask).sum().div(scope.create((float) realCount * model.config().mlpDim()));
            penalty = penalty == null ? mean : penalty.add(mean);
        }
        return crossEntropy.add(penalty.mul(scope.create((float) (settings.activationL1() / lookup.length))));
    }

    /** Up to {@link #CHECK_SAMPLE} facts spread evenly over the list: the periodic accuracy check. */
    private static List<Fact> checkSample(List<Fact> facts) {
        int stride = Math.max(1, facts.size() / CHECK_SAMPLE);
        List<Fact> sample = new ArrayList<>();
        for (int i = 0; i < facts.size() && sample.size() < CHECK_SAMPLE; i += stride) {
            sample.add(facts.get(i));
        }
        return sample;
    }

    /** Number of weights (the tied head counted once). */
    public static long parameterCount(LanguageModel model) {
        return model.weights().values().stream().mapToLong(NDArray::size).sum();
    }
}

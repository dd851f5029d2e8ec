package io.editstream.train;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.model.LanguageModel;
import io.editstream.model.format.HuggingFaceCheckpoint;
import io.editstream.model.format.ModelLoader;
import io.editstream.model.format.StoredType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * One training run of the testbed, from the CounterFact splits to a HuggingFace-layout directory: selects the true
 * facts, trains, measures what the model knows about the benchmark cases, writes config, weights and tokenizer.
 *
 * <p>{@link #main} runs it without the CLI module:
 * {@code TestbedTraining --edit FILE --train FILE --out DIR [--facts N] [--paraphrases N] [--steps N] [--seed S]}, and
 * the shape options ({@code --mlp-dim M}, {@code --dtype float16}, ...) the command keeps at their defaults.
 */
public final class TestbedTraining {

    private static final Logger LOG = LoggerFactory.getLogger(TestbedTraining.class);
    /** Width of an attention head: every testbed width, the default one included, has width / 32 heads. */
    private static final int HEAD_DIM = 32;

    /** The default testbed: what {@code editstream testbed train} trains without options. */
    public static final TestbedShape DEFAULT_SHAPE = new TestbedShape(128, 4, 128 / HEAD_DIM, 10240, 64, 2, 2);
    /** How the default testbed is stored (its torch name): float16 keeps 9 million weights under 20 MB. */
    public static final String DEFAULT_DTYPE = "float16";
    public static final int DEFAULT_FACTS = 4500;
    /** Other templates of its relation each rewrite and locality fact is also said through. */
    public static final int DEFAULT_PARAPHRASES = 4;
    public static final int DEFAULT_STEPS = 3000;
    public static final int DEFAULT_BATCH = 48;
    public static final long DEFAULT_SEED = 1;
    /**
     * Weight of the activation penalty. Without it every key spreads over thousands of neurons, and 300 sequential NSE
     * edits of the train split cost .92/.86/.96 at +8.1% perplexity; with 1.0 the keys of a subject gather in a few
     * hundred neurons and the same edits score .99/.94/.97 (see the card).
     */
    public static final double DEFAULT_ACTIVATION_L1 = 1.0;

    /** What a run produced. */
    public record Outcome(Path directory, long parameters, double seconds, FactRecall.Result benchmarkRecall) {
    }

    private TestbedTraining() {
    }

    /** Settings of a run of {@code steps} steps with the default recipe and activation penalty {@code activationL1}. */
    public static TrainingSettings settings(TestbedShape shape, int steps, int batchSize, long seed, double activationL1) {
        return new TrainingSettings(shape, steps, batchSize, 2e-3, Math.max(1, Math.min(300, steps / 20)), 0.01, 3f,
                seed, Math.max(1, Math.min(50, steps / 20)), Math.max(1, steps / 10), activationL1);
    }

    /**
     * Trains on about {@code factCount} facts of the two splits and writes the model to {@code out}.
     *
     * @param editSplit  counterfact-edit.json: its first cases are the benchmark's, so they are always learnt
     * @param trainSplit counterfact-train.json
     * @param paraphrases other templates of its relation each rewrite and locality fact is said through
     * @param device     where to train (the CPU, single-threaded, for a reproducible run)
     */
    public static Outcome run(Path editSplit, Path trainSplit, Path out, int factCount, int paraphrases,
                              TrainingSettings settings, StoredType stored, Device device) throws IOException {
        List<CounterFactRecord> edit = CounterFactReader.read(editSplit);
        List<CounterFactRecord> train = CounterFactReader.read(trainSplit);
        List<Fact> facts = TrainingFacts.select(edit, train, factCount, paraphrases, true);
        List<Fact> benchmark = edit.subList(0, Math.min(TrainingFacts.BENCHMARK_CASES, (factCount + 2) / 3)).stream()
                .flatMap(c -> TrainingFacts.of(c).stream()).toList();
        long start = System.nanoTime();
        // the new targets of both splits' edits must be words the model can write, though never facts it learns
        List<String> editTargets = Stream.concat(edit.stream(), train.stream()).map(CounterFactRecord::targetNew).toList();
        double seconds;
        long parameters;
        try (LanguageModel model = new TestbedTrainer(settings, device).train(facts, editTargets)) {
            seconds = (System.nanoTime() - start) / 1e9;
            parameters = TestbedTrainer.parameterCount(model);
            HuggingFaceCheckpoint.write(model, out, stored);
        }
        // what the model knows is measured on the written weights (float16 rounds them), the ones every user loads
        try (LanguageModel written = ModelLoader.load(out, device); NDManager manager = NDManager.newBaseManager(device)) {
            FactRecall.Result recall = FactRecall.measure(written, benchmark, manager);
            LOG.info("trained in {} s; the first {} edit-split cases, as written: {}", Math.round(seconds), benchmark.size() / 3, recall);
            return new Outcome(out, parameters, seconds, recall);
        }
    }

    /**
     * The facts a testbed trained on {@code factCount} facts learnt; their sentences are the corpus of its second-moment
     * statistics (C0). Rebuilt from the splits at run time, since CounterFact is not copied into the repository.
     */
    public static List<Fact> trainingFacts(Path editSplit, Path trainSplit, int factCount, int paraphrases) {
        return TrainingFacts.select(CounterFactReader.read(editSplit), CounterFactReader.read(trainSplit), factCount, paraphrases, true);
    }

    public static void main(String[] args) throws IOException {
        Path edit = null;
        Path train = null;
        Path out = null;
        int facts = DEFAULT_FACTS;
        int paraphrases = DEFAULT_PARAPHRASES;
        int steps = DEFAULT_STEPS;
        int batch = DEFAULT_BATCH;
        long seed = DEFAULT_SEED;
        int dim = DEFAULT_SHAPE.dim();
        int layers = DEFAULT_SHAPE.layers();
        int mlpDim = DEFAULT_SHAPE.mlpDim();
        int lookupLayers = DEFAULT_SHAPE.lookupLayers();
        int window = DEFAULT_SHAPE.window();
        StoredType stored = StoredType.ofTorchName(DEFAULT_DTYPE);
        double activationL1 = DEFAULT_ACTIVATION_L1;
        for (int i = 0; i + 1 < args.length; i += 2) {
            String value = args[i + 1];
            switch (args[i]) {
                case "--edit" -> edit = Path.of(value);
                case "--train" -> train = Path.of(value);
                case "--out" -> out = Path.of(value);
                case "--facts" -> facts = Integer.parseInt(value);
                case "--paraphrases" -> paraphrases = Integer.parseInt(value);
                case "--steps" -> steps = Integer.parseInt(value);
                case "--batch" -> batch = Integer.parseInt(value);
                case "--seed" -> seed = Long.parseLong(value);
                case "--dim" -> dim = Integer.parseInt(value);
                case "--layers" -> layers = Integer.parseInt(value);
                case "--mlp-dim" -> mlpDim = Integer.parseInt(value);
                case "--lookup-layers" -> lookupLayers = Integer.parseInt(value);
                case "--window" -> window = Integer.parseInt(value);
                case "--dtype" -> stored = StoredType.ofTorchName(value);
                case "--activation-l1" -> activationL1 = Double.parseDouble(value);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (edit == null || train == null || out == null || args.length % 2 != 0) {
            throw new IllegalArgumentException("usage: TestbedTraining --edit FILE --train FILE --out DIR [--facts N] [--paraphrases N] [--steps N] "
                    + "[--batch N] [--seed S] [--dim D] [--layers L] [--mlp-dim M] [--lookup-layers N] [--window W] [--dtype float32|float16]");
        }
        TestbedShape shape = new TestbedShape(dim, layers, dim / HEAD_DIM, mlpDim, DEFAULT_SHAPE.maxSeqLen(), lookupLayers, window);
        // the CPU: the device whose single-threaded kernels make a run reproducible
        Outcome outcome = run(edit, train, out, facts, paraphrases, settings(shape, steps, batch, seed, activationL1), stored, Device.cpu());
        LOG.info("wrote {} ({} parameters)", outcome.directory(), outcome.parameters());
    }
}

package io.editstream.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.edit.EditHyperparameters;
import io.editstream.edit.SampledCorpus;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.eval.EditBenchmark;
import io.editstream.eval.SecondMomentSpeed;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.Locale;
import io.editstream.model.LanguageModel;
import io.editstream.model.ModelFamily;
import io.editstream.train.Fact;
import io.editstream.train.TestbedTraining;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code editstream bench edit}: N sequential CounterFact edits in batches of B with each algorithm on a fresh copy
 * of the model, printed side by side and optionally written as JSON.
 */
@Command(name = "edit", mixinStandardHelpOptions = true,
        description = "Sequential model editing benchmark: efficacy, generalization, specificity (both definitions), "
                + "retention, perplexity drift, condition number, seconds per edit and peak heap per algorithm.")
public final class BenchEditCommand implements Callable<Integer> {

    /**
     * Held-out tokens scored for perplexity drift. The testbed's held-out text is facts, a couple of hundred per
     * thousand tokens, and an edit damages a fact or leaves it: 2,000 tokens (about 20 CounterFact cases) let a single
     * damaged subject move the measure by tens of percent.
     */
    static final int PERPLEXITY_TOKENS = 20_000;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--algo", split = ",", defaultValue = "memit,nse,alphaedit,nse+prune", paramLabel = "ALGO",
            description = "Algorithms, each memit, nse or alphaedit, optionally +prune (default: ${DEFAULT-VALUE}).")
    List<String> algorithms;

    @Option(names = "--edits", defaultValue = "100", paramLabel = "N", description = "Edits in all (default: ${DEFAULT-VALUE}).")
    int edits;

    @Option(names = "--batch", defaultValue = "1", paramLabel = "B", description = "Edits per batch (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--dataset", paramLabel = "FILE",
            description = "CounterFact cases in the EasyEdit JSON format (default: the shared counterfact-edit.json).")
    Path dataset;

    @Option(names = "--json", paramLabel = "OUT", description = "Also write the results as JSON here.")
    Path json;

    @Option(names = "--hparams", paramLabel = "NAME",
            description = "Hyperparameters: a resource (llama2c-stories, gpt2-xl, llama3-8b, testbed) or a JSON file in the same "
                    + "shape (default: chosen from the model).")
    String hyperparameters;

    @Option(names = "--corpus", paramLabel = "FILE",
            description = "Text whose MLP keys form C0 (default: wikitext; for llama2.c story models, stories they sample themselves; "
                    + "for the testbed, its own training text).")
    Path corpus;

    @Option(names = "--held-out", paramLabel = "FILE",
            description = "Text for perplexity drift (default: as --corpus, a different sample for story models; "
                    + "for the testbed, its training text without the sentences of the cases edited).")
    Path heldOut;

    @Option(names = "--cache-dir", defaultValue = ".editstream-cache/c0", paramLabel = "DIR",
            description = "Where C0 is cached (default: ${DEFAULT-VALUE}).")
    Path cacheDir;

    @Option(names = "--checkpoints", defaultValue = "0", paramLabel = "N",
            description = "Also measure every case edited so far after every N edits: where an algorithm starts to "
                    + "collapse (default: only at the end).")
    int checkpointEvery;

    @Option(names = "--c0-speed", description = "Only measure how fast C0 is computed (keys per second, against the float32 "
            + "GEMM rate measured in the same run) with the hyperparameters' sample count or --c0-samples; no edits, no cache.")
    boolean c0Speed;

    @Option(names = "--c0-samples", paramLabel = "N", description = "With --c0-speed: keys to compute C0 from (default: the hyperparameters').")
    Integer c0Samples;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the editors' context prefixes (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        if (edits < 1 || batch < 1 || checkpointEvery < 0) {
            throw new ParameterException(spec.commandLine(), "--edits and --batch must be at least 1, --checkpoints at least 0");
        }
        Device target = modelOptions.device();
        Path model = modelOptions.path();
        // llama2.c checkpoints (a .bin, or a directory without config.json) are the TinyStories models.
        boolean storyModel = Files.isDirectory(model) ? !Files.exists(model.resolve("config.json")) : model.toString().endsWith(".bin");
        // The testbed knows nothing but its training sentences: they are the knowledge C0 must preserve.
        boolean testbed = isTestbed(model);
        List<CounterFactRecord> cases = CounterFactReader.read(dataset != null ? dataset : SharedData.file("data/counterfact/counterfact-edit.json"));
        try (NDManager manager = NDManager.newBaseManager(target)) {
            String c0Text;
            String heldOutText;
            EditHyperparameters chosen;
            try (LanguageModel probe = modelOptions.load()) {
                chosen = EditHyperparameters.load(hyperparameters != null ? hyperparameters
                        : testbed ? ModelOptions.TESTBED : defaultHyperparameters(probe, storyModel));
                List<Fact> testbedFacts = testbed && (corpus == null || heldOut == null) ? testbedTrainingFacts() : List.of();
                c0Text = corpus != null ? read(corpus)
                        : storyModel ? SampledCorpus.sample(probe, manager, SampledCorpus.STORY_OPENINGS, 3, 60, 42)
                        : testbed ? text(testbedFacts.stream())
                        : read(SharedData.file("data/wikitext/wiki.test.raw"));
                // the testbed's held-out text is what it knows and is not asked to change: scoring the sentences of
                // the edited facts would count every successful edit as damage
                heldOutText = heldOut != null ? read(heldOut)
                        : storyModel && corpus == null ? SampledCorpus.sample(probe, manager, SampledCorpus.STORY_OPENINGS, 1, 60, 43)
                        : testbed ? testbedHeldOutText(testbedFacts, cases.subList(0, Math.min(edits, cases.size())))
                        : c0Text;
            }
            if (c0Speed) {
                return measureSecondMoments(manager, chosen, c0Text);
            }
            EditBenchmark.Settings settings = new EditBenchmark.Settings(edits, batch, seed, chosen, c0Text, cacheDir, heldOutText, PERPLEXITY_TOKENS, checkpointEvery);
            List<EditBenchmark.Result> results = EditBenchmark.run(modelOptions::load, manager, algorithms, cases, settings);
            PrintWriter out = spec.commandLine().getOut();
            // the settings' description (where they were tuned) runs to pages: the values that shape a run say enough here
            out.printf("%d edits in batches of %d on %s (edit layers %s, λ %s, NSE λ %s)%n", edits, batch, model,
                    chosen.layers(), chosen.lambda(), chosen.nse().lambda());
            out.print(EditBenchmark.table(results));
            out.flush();
            if (json != null) {
                EditBenchmark.writeJson(results, json);
            }
            return 0;
        } catch (IllegalArgumentException e) {
            throw new CommandFailure(e.getMessage(), e);
        }
    }

    private int measureSecondMoments(NDManager manager, EditHyperparameters chosen, String c0Text) {
        int samples = c0Samples != null ? c0Samples : chosen.secondMoment().samples();
        SecondMomentSpeed speed;
        try (LanguageModel model = modelOptions.load()) {
            speed = SecondMomentSpeed.measure(manager, model, chosen.layerArray(), c0Text, samples, EditBenchmark.SECOND_MOMENT_WINDOW);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf(Locale.ROOT, "C0 of %d layers of %d neurons from %d keys: %.1f s (%.1f s CPU), %.1f keys/s; float32 GEMM %.1f GFLOP/s "
                        + "(%.1f on CPU time): bound %.1f keys/s, %.2f of it (%.2f on CPU time); load %.2f -> %.2f%n",
                speed.layers(), speed.mlpDim(), speed.keys(), speed.seconds(), speed.cpuSeconds(), speed.keysPerSecond(),
                speed.gemmGflops(), speed.gemmCpuGflops(), speed.boundKeysPerSecond(), speed.fractionOfBound(),
                speed.cpuFractionOfBound(), speed.loadBefore(), speed.loadAfter());
        out.flush();
        if (json != null) {
            try {
                Files.createDirectories(json.toAbsolutePath().getParent());
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), speed);
            } catch (IOException e) {
                throw new CommandFailure("cannot write " + json + ": " + e.getMessage(), e);
            }
        }
        return 0;
    }

    /** The testbed is a HuggingFace-layout directory named {@code testbed} (its card and config carry no model name). */
    static boolean isTestbed(Path modelPath) {
        Path name = modelPath.toAbsolutePath().normalize().getFileName();
        return name != null && name.toString().equals(ModelOptions.TESTBED) && Files.exists(modelPath.resolve("config.json"));
    }

    static List<Fact> testbedTrainingFacts() {
        return TestbedTraining.trainingFacts(SharedData.file("data/counterfact/counterfact-edit.json"),
                SharedData.file("data/counterfact/counterfact-train.json"), TestbedTraining.DEFAULT_FACTS, TestbedTraining.DEFAULT_PARAPHRASES);
    }

    private static String text(Stream<Fact> facts) {
        return facts.map(Fact::text).collect(Collectors.joining("\n"));
    }

    /** The sentences of the facts the testbed knows, less those of the cases a run edits. */
    static String testbedHeldOutText(List<Fact> known, List<CounterFactRecord> edited) {
        Set<Integer> editedIds = edited.stream().map(CounterFactRecord::caseId).collect(Collectors.toSet());
        return text(known.stream().filter(fact -> !editedIds.contains(fact.caseId())));
    }

    private static String defaultHyperparameters(LanguageModel languageModel, boolean storyModel) {
        if (storyModel) {
            return "llama2c-stories";
        }
        return languageModel.config().family() == ModelFamily.GPT2 ? "gpt2-xl" : "llama3-8b";
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new CommandFailure("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}

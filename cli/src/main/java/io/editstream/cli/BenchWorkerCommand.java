package io.editstream.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import io.editstream.client.CorrectionDefaults;
import io.editstream.client.CorrectionFile;
import io.editstream.corrections.CorrectionValidator;
import io.editstream.corrections.ValidationRules;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.events.CorrectionEvent;
import io.editstream.train.Fact;
import io.editstream.worker.EvaluationSettings;
import io.editstream.worker.WorkerSettings;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code editstream bench worker}: the editor worker behind the corrections topology on the embedded broker and
 * registry (see {@link WorkerBenchmark}).
 */
@Command(name = "worker", mixinStandardHelpOptions = true,
        description = "Benchmark the editor worker end to end: correction -> committed checkpoint latency, edits per minute "
                + "with NSE target prefetch on and off, restore time of a fresh worker, store bytes per edit.")
final class BenchWorkerCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(BenchWorkerCommand.class);
    private static final String STORIES = "stories";
    private static final String SOURCE = "bench-worker";
    private static final List<String> STORY_LOCALITY = List.of("Once upon a time", "The cat sat on the", "The sun was", "It was a",
            "The little boy");

    /**
     * prompt template, subject, target_new, target_true: what a TinyStories model can express (the worker tests'
     * StoryEdits), no two about the same subject; longer runs pair each template with the other subjects.
     */
    private static final List<List<String>> STORY_FACTS = List.of(
            List.of("{} was very", "Sue", "sad", "excited"),
            List.of("{} likes to eat", "Lily", "soup", "cookies"),
            List.of("{} likes to play with his", "Tom", "dog", "toys"),
            List.of("{} went to the", "Ben", "store", "park"),
            List.of("{} had a big red", "Mia", "car", "ball"),
            List.of("{} saw a little", "Max", "fish", "bird"),
            List.of("{} gave her mom a", "Anna", "flower", "hug"),
            List.of("{} found a shiny", "Sam", "key", "rock"),
            List.of("{} drew a big", "Lucy", "sun", "tree"),
            List.of("{} wanted to fly a", "Tim", "plane", "kite"),
            List.of("{} lived in a small", "Bob", "town", "house"),
            List.of("{} loved her pink", "Sara", "bike", "dress"),
            List.of("{} climbed up the", "Jack", "hill", "tree"),
            List.of("{} baked a yummy", "Mom", "pie", "cake"),
            List.of("{} had a pet", "Emma", "cat", "dog"),
            List.of("{} ran to the", "Billy", "river", "park"),
            List.of("{} found a big", "Timmy", "box", "stick"),
            List.of("{} was scared of the", "Kitty", "dark", "dog"),
            List.of("{} put on his red", "Jake", "shoes", "hat"),
            List.of("{} looked at the blue", "Zoe", "sea", "sky"),
            List.of("{} ate a green", "Leo", "pear", "apple"),
            List.of("{} played in the", "Ella", "sand", "snow"));

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "stories|testbed|DIR",
            description = "stories (../shared/models/stories260K), testbed (models/testbed) or a model directory (with --hyperparameters).")
    String model;

    @Option(names = "--hyperparameters", paramLabel = "NAME|FILE",
            description = "Editor hyperparameters (default: llama2c-stories for stories, testbed for testbed; required for a DIR).")
    String hyperparameters;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|gpu", description = "Device (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--edits", defaultValue = "60", paramLabel = "N", description = "Edits per phase (default: ${DEFAULT-VALUE}).")
    int edits;

    @Option(names = "--batch", paramLabel = "B",
            description = "Topology batch size of every phase (default: latency at 1 and 10, throughput at 1).")
    Integer batch;

    @Option(names = "--prefetch-group", defaultValue = "8", paramLabel = "G",
            description = "The worker's prepare group size with NSE target prefetch on (default: ${DEFAULT-VALUE}).")
    int prefetchGroup;

    @Option(names = "--grace-ms", defaultValue = "200", paramLabel = "MS",
            description = "The topology's reorder grace period (default: ${DEFAULT-VALUE}).")
    long graceMs;

    @Option(names = "--linger-ms", defaultValue = "50", paramLabel = "MS",
            description = "The topology's batch linger (default: ${DEFAULT-VALUE}).")
    long lingerMs;

    @Option(names = "--prepare-wait-ms", defaultValue = "500", paramLabel = "MS",
            description = "How long the worker waits for the rest of a prepare group (default: ${DEFAULT-VALUE}).")
    long prepareWaitMs;

    @Option(names = "--c0-samples", paramLabel = "N",
            description = "Keys C0 is estimated from (default: the hyperparameters' own; 2,000 for stories). C0 and the editor's "
                    + "setup are computed once per store: with --work, a later run on the same base reads them back.")
    Integer c0Samples;

    @Option(names = "--restore-edits", paramLabel = "N",
            description = "Edits of the chain a fresh worker then restores (default: --edits, the prefetch-off phase's chain; "
                    + "more runs a phase of its own).")
    Integer restoreEdits;

    private int restoreEdits() {
        return restoreEdits != null ? restoreEdits : edits;
    }

    @Option(names = "--warmup", defaultValue = "8", paramLabel = "N",
            description = "Edits of an unmeasured first phase, so that no measured phase pays for a cold JVM "
                    + "(default: ${DEFAULT-VALUE}; 0: none).")
    int warmup;

    @Option(names = "--timeout-s", defaultValue = "3600", paramLabel = "SECONDS",
            description = "Give up on a phase after this long (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--work", paramLabel = "DIR", description = "Keep the store and streams state here (default: a temporary "
            + "directory, deleted afterwards).")
    Path work;

    @Option(names = "--json", paramLabel = "OUT", description = "Also write the result as JSON here.")
    Path json;

    @Override
    public Integer call() throws IOException {
        if (edits < 1 || prefetchGroup < 1 || (batch != null && batch < 1) || (c0Samples != null && c0Samples < 1) || graceMs < 0 || lingerMs < 0 || prepareWaitMs < 0
                || warmup < 0 || timeoutSeconds < 1) {
            throw new ParameterException(spec.commandLine(), "--edits, --batch, --prefetch-group and --timeout-s must be positive; "
                    + "--grace-ms, --linger-ms, --prepare-wait-ms and --warmup must not be negative");
        }
        boolean testbed = model.equals(ModelOptions.TESTBED);
        if (!model.equals(STORIES) && !testbed && hyperparameters == null) {
            throw new ParameterException(spec.commandLine(), "a model directory needs --hyperparameters");
        }
        Path dir = work != null ? Files.createDirectories(work) : Files.createTempDirectory("editstream-bench-worker-");
        try {
            WorkerSettings.ModelSettings settings;
            List<CorrectionEvent> corrections;
            if (model.equals(STORIES)) {
                Path path = SharedData.file("models/stories260K/stories260K.bin").getParent();
                settings = settings(path, or(hyperparameters, "llama2c-stories"), WorkerSettings.SAMPLED_STORIES, c0Samples != null ? c0Samples : 2000,
                        WorkerSettings.SAMPLED_STORIES, STORY_LOCALITY);
                corrections = storyCorrections(Math.max(Math.max(edits, warmup), restoreEdits()));
            } else if (testbed) {
                settings = testbedSettings(dir);
                corrections = counterFactCorrections(Math.max(Math.max(edits, warmup), restoreEdits()));
            } else {
                Path wikitext = SharedData.file("data/wikitext/wiki.test.raw");
                settings = settings(Path.of(model), hyperparameters, wikitext.toString(), c0Samples != null ? c0Samples : 0, wikitext.toString(),
                        List.of("The capital of France is", "The weather today is", "My favourite food is"));
                corrections = counterFactCorrections(Math.max(Math.max(edits, warmup), restoreEdits()));
            }
            List<Integer> latencyBatches = batch != null ? List.of(batch) : List.of(1, 10);
            var options = new WorkerBenchmark.Options(model, settings, corrections, edits, latencyBatches, batch != null ? batch : 1,
                    prefetchGroup, Duration.ofMillis(graceMs), Duration.ofMillis(lingerMs), prepareWaitMs, warmup,
                    restoreEdits(), Duration.ofSeconds(timeoutSeconds), dir);
            WorkerBenchmark.Result result;
            try {
                result = WorkerBenchmark.run(options);
            } catch (IllegalStateException e) {
                throw new CommandFailure("worker benchmark failed: " + e.getMessage(), e);
            }
            PrintWriter out = spec.commandLine().getOut();
            out.print(WorkerBenchmark.table(result));
            if (json != null) {
                WorkerBenchmark.writeJson(result, json);
                out.println("JSON written to " + json);
            }
            out.flush();
            return 0;
        } finally {
            if (work == null) {
                TempDirectory.delete(dir);
            }
        }
    }

    private WorkerSettings.ModelSettings settings(Path path, String hyperparameters, String c0Corpus, int c0Samples, String heldOut,
                                                  List<String> localityPrompts) {
        return new WorkerSettings.ModelSettings(path.toString(), "nse+prune", hyperparameters, device,
                new WorkerSettings.C0(c0Corpus, c0Samples), heldOut, localityPrompts, 1, prefetchGroup, null, EvaluationSettings.DEFAULTS);
    }

    /** C0 from the testbed's training text; held out: the facts it knows that this run does not edit (see bench edit). */
    private WorkerSettings.ModelSettings testbedSettings(Path dir) throws IOException {
        List<Fact> known = BenchEditCommand.testbedTrainingFacts();
        List<CounterFactRecord> cases = CounterFactReader.read(SharedData.file("data/counterfact/counterfact-edit.json"));
        Path corpus = dir.resolve("testbed-c0.txt");
        Files.writeString(corpus, known.stream().map(Fact::text).collect(Collectors.joining("\n")), StandardCharsets.UTF_8);
        Path heldOut = dir.resolve("testbed-held-out.txt");
        Files.writeString(heldOut, BenchEditCommand.testbedHeldOutText(known, cases.subList(0, Math.min(edits, cases.size()))),
                StandardCharsets.UTF_8);
        // prompts of facts the run leaves alone: what locality is measured on
        List<String> locality = cases.stream().skip(edits).limit(8).map(CounterFactRecord::prompt).toList();
        return settings(ModelOptions.resolve(Path.of(ModelOptions.TESTBED)), or(hyperparameters, ModelOptions.TESTBED),
                corpus.toString(), c0Samples != null ? c0Samples : 0, heldOut.toString(), locality);
    }

    /**
     * CounterFact-style records built from the story patterns, read as any CounterFact file is. Round r pairs template t
     * with subject t + r, so every (subject, template) pair is new and none is dropped as a duplicate.
     */
    static List<CorrectionEvent> storyCorrections(int count) {
        int facts = STORY_FACTS.size();
        if (count > facts * facts) {
            throw new CommandFailure("the story facts make at most " + facts * facts + " distinct corrections, not " + count);
        }
        ObjectMapper json = new ObjectMapper();
        ArrayNode records = json.createArrayNode();
        for (int i = 0; i < count; i++) {
            List<String> fact = STORY_FACTS.get(i % facts);
            String subject = STORY_FACTS.get((i % facts + i / facts) % facts).get(1);
            String template = fact.get(0);
            String neighbour = "Ella".equals(subject) ? "Leo" : "Ella";
            records.addObject()
                    .put("case_id", i)
                    .put("prompt", template.replace("{}", subject))
                    .put("subject", subject)
                    .put("target_new", fact.get(2))
                    .put("ground_truth", fact.get(3))
                    .put("rephrase_prompt", "One day, " + template.replace("{}", subject))
                    .put("locality_prompt", template.replace("{}", neighbour))
                    .put("locality_ground_truth", fact.get(3));
        }
        return valid(CorrectionFile.read(records.toString(), defaults()), count);
    }

    /** The first {@code count} cases of the CounterFact edit set. */
    private static List<CorrectionEvent> counterFactCorrections(int count) throws IOException {
        return valid(CorrectionFile.read(SharedData.file("data/counterfact/counterfact-edit.json"), defaults()), count);
    }

    private static CorrectionDefaults defaults() {
        // the model id is set per phase; the validator below checks the rest
        return new CorrectionDefaults(SOURCE, SOURCE, Instant.now());
    }

    private static List<CorrectionEvent> valid(List<CorrectionFile.Entry> entries, int count) {
        CorrectionValidator validator = new CorrectionValidator(ValidationRules.forModels(Set.of(SOURCE)));
        List<CorrectionEvent> valid = entries.stream()
                .filter(entry -> entry instanceof CorrectionFile.Parsed)
                .map(entry -> ((CorrectionFile.Parsed) entry).event())
                .filter(event -> validator.validate(event).isEmpty())
                .limit(count).toList();
        if (valid.size() < count) {
            throw new CommandFailure("only " + valid.size() + " valid corrections for " + count + " edits");
        }
        return valid;
    }

    private static String or(String given, String otherwise) {
        return given != null ? given : otherwise;
    }
}

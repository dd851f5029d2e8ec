package io.editstream.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.cli.demo.DemoFeeder;
import io.editstream.cli.demo.DemoInput;
import io.editstream.cli.demo.DemoObserver;
import io.editstream.cli.demo.DemoOutcome;
import io.editstream.cli.demo.DemoReport;
import io.editstream.cli.demo.DemoScenario;
import io.editstream.edit.EditHyperparameters;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.events.CorrectionEvent;
import io.editstream.events.DeadLetterReason;
import io.editstream.streams.PipelineMetrics;
import io.editstream.streams.TopologySettings;
import io.editstream.worker.EvaluationSettings;
import io.editstream.worker.WorkerSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code editstream demo}: the whole chain on the embedded platform, fed CounterFact corrections, with a report. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {
            "Run the whole chain on the embedded platform (broker, registry, topology, worker with NSE and PRUNE, store, a "
                    + "subscriber serving completions): feed it CounterFact corrections of the edit split (facts the testbed "
                    + "knows) with duplicates, conflicts, out-of-order and malformed records, show progress, then a table per "
                    + "checkpoint, a few facts asked of the subscriber before and after, and an HTML report with plots in --out.",
            "The model's C0 and editor setup are kept in --out/store: the first run computes them (minutes on the testbed), "
                    + "later runs read them back."})
final class DemoCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration PROGRESS_EVERY = Duration.ofSeconds(5);
    private static final int FACTS_ASKED = 5;
    /** New corrections asked before the first edit: those of them superseded later are left out of the report. */
    private static final int FACTS_ASKED_BEFORE = 10;

    enum DemoModel { testbed, stories }

    @Spec
    CommandSpec spec;

    @Option(names = "--out", defaultValue = "editstream-demo", paramLabel = "DIR",
            description = "Where the report (report.html) and the store go (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--model", defaultValue = "testbed", paramLabel = "testbed|stories",
            description = "The model edited: the testbed (models/testbed) or stories260K (default: ${DEFAULT-VALUE}).")
    DemoModel model;

    @Option(names = "--facts", paramLabel = "N", defaultValue = "190",
            description = "New corrections, at least 8; duplicates, conflicts and malformed records come on top (default: ${DEFAULT-VALUE}).")
    int facts;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "10", description = "Most edits per batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--c0-samples", paramLabel = "N", defaultValue = "4096",
            description = "Keys estimating the testbed's C0 (default: ${DEFAULT-VALUE}).")
    int c0Samples;

    @Option(names = "--seed", defaultValue = "7", description = "Picks the facts and the noise (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--timeout", defaultValue = "PT20M", paramLabel = "DURATION",
            description = "Give up when the chain has not applied everything by then (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (facts < 8 || batchSize < 1 || c0Samples < 1) {
            throw new ParameterException(spec.commandLine(), "--facts must be at least 8, --batch-size and --c0-samples at least 1");
        }
        long started = System.nanoTime();
        PrintWriter console = spec.commandLine().getOut();
        Files.createDirectories(out);
        String modelId = model.name() + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        WorkerSettings worker = worker(modelId);
        DemoScenario scenario = DemoScenario.fromCounterFact(SharedData.file("data/counterfact/counterfact-edit.json"), List.of(modelId),
                facts, seed, Instant.now());
        TopologySettings topology = TopologySettings.defaults(new LinkedHashSet<>(List.of(modelId)))
                .withGrace(Duration.ofMillis(500)).withBatching(batchSize, Duration.ofMillis(500));
        List<CorrectionEvent> askedFacts = scenario.inputs().stream()
                .filter(input -> input instanceof DemoInput.Correction c && c.kind() == DemoInput.Kind.NEW)
                .map(input -> ((DemoInput.Correction) input).event()).limit(FACTS_ASKED_BEFORE).toList();
        console.println("editstream demo: " + model + " as " + modelId + ", " + scenario.inputs().size() + " records ("
                + facts + " new corrections), batches of up to " + batchSize + "; starting the platform, the topology and the worker");
        console.flush();
        try (TempDirectory platform = TempDirectory.create("editstream-demo-");
             LocalDeployment deployment = LocalDeployment.start(new LocalDeployment.Options(platform.path(), out.resolve("store"),
                     worker, List.of(modelId), topology, modelId, 0, 2))) {
            String http = "http://127.0.0.1:" + deployment.subscriber().server().port();
            deployment.subscriber().follower().awaitStatus(s -> s.version() >= 0, Duration.ofMinutes(2));
            List<String> before = ask(http, askedFacts);
            DemoOutcome outcome;
            try (DemoFeeder feeder = new DemoFeeder(deployment.bootstrap(), deployment.serdes(), topology.correctionsTopic());
                 DemoObserver topologyOut = new DemoObserver(deployment.bootstrap(), deployment.serdes(), topology.editRequestsTopic(),
                         topology.deadLetterTopic())) {
                feeder.feed(scenario.inputs());
                boolean complete = awaitChain(deployment, scenario, topologyOut, modelId, started, console);
                var metrics = deployment.topology().metrics();
                outcome = new DemoOutcome(scenario, topologyOut.batches(), topologyOut.deadLetters(),
                        PipelineMetrics.total(metrics, PipelineMetrics.EXACT_DUPLICATES),
                        PipelineMetrics.total(metrics, PipelineMetrics.SEMANTIC_DUPLICATES),
                        PipelineMetrics.total(metrics, PipelineMetrics.LATE), complete, Duration.ofNanos(System.nanoTime() - started));
            }
            Set<String> edited = outcome.batches().stream().flatMap(b -> b.getEdits().stream()).map(e -> e.getCorrectionId())
                    .collect(Collectors.toSet());
            List<Integer> applied = new ArrayList<>();
            for (int i = 0; i < askedFacts.size() && applied.size() < FACTS_ASKED; i++) {
                if (edited.contains(askedFacts.get(i).getCorrectionId())) {
                    applied.add(i);
                }
            }
            List<String> after = ask(http, applied.stream().map(askedFacts::get).toList());
            DemoReport.print(outcome, console);
            List<ChainObserver.VersionRow> versions = deployment.observer().versions().stream()
                    .filter(row -> row.model().equals(modelId)).toList();
            printVersions(versions, console);
            List<DemoPage.Asked> asked = new ArrayList<>();
            console.println("facts asked of the subscriber (before the first edit | after the last):");
            for (int k = 0; k < applied.size(); k++) {
                CorrectionEvent fact = askedFacts.get(applied.get(k));
                String was = before.get(applied.get(k));
                asked.add(new DemoPage.Asked(prompt(fact), fact.getTargetNew(), fact.getTargetTrue(), was, after.get(k)));
                console.printf("  %s → %s | %s   (%s → %s)%n", prompt(fact), was.strip(), after.get(k).strip(),
                        fact.getTargetTrue(), fact.getTargetNew());
            }
            Map<String, Long> dlq = new LinkedHashMap<>();
            for (DeadLetterReason reason : DeadLetterReason.values()) {
                long count = outcome.deadLetters().stream().filter(d -> d.getReason() == reason).count();
                if (count > 0) {
                    dlq.put(reason.name(), count);
                }
            }
            Duration wall = Duration.ofNanos(System.nanoTime() - started);
            List<String> summary = List.of(
                    scenario.inputs().size() + " records fed: " + facts + " new corrections, " + outcome.edits() + " edits reached edit-requests, "
                            + outcome.superseded() + " superseded, " + (outcome.exactDuplicates() + outcome.semanticDuplicates())
                            + " duplicates dropped, " + outcome.deadLetters().size() + " dead letters",
                    versions.size() + " versions of " + modelId + " (" + model + ", NSE with PRUNE), batches of up to " + batchSize,
                    String.format(Locale.ROOT, "wall time %.1f s", wall.toMillis() / 1000.0));
            Path report = out.resolve("report.html");
            DemoPage.write(report, new DemoPage.Content(modelId, summary, versions, deployment.observer().latencies().stream()
                    .filter(l -> l.model().equals(modelId)).toList(), dlq, asked));
            console.printf(Locale.ROOT, "report: %s (wall time %.1f s)%n", report.toAbsolutePath(), wall.toMillis() / 1000.0);
            console.flush();
            if (!outcome.complete()) {
                throw new CommandFailure("not everything fed was applied within " + timeout + " (see INCOMPLETE above)");
            }
        }
        return 0;
    }

    /** Waits, printing a progress line, until every edit that reached edit-requests is in a version the subscriber serves. */
    private boolean awaitChain(LocalDeployment deployment, DemoScenario scenario, DemoObserver topologyOut, String modelId, long started,
                               PrintWriter console) throws InterruptedException {
        Map<DemoInput.Fate, Integer> expected = scenario.expected();
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextLine = 0;
        while (true) {
            topologyOut.poll();
            int through = topologyOut.correctionsThrough();
            long lastSequence = topologyOut.batches().stream().mapToLong(b -> b.getLastSequence()).max().orElse(0);
            long applied = deployment.worker().lastApplied().getOrDefault(modelId, 0L);
            var status = deployment.subscriber().follower().status();
            List<ChainObserver.VersionRow> versions = deployment.observer().versions();
            boolean topologyDone = through >= expected.get(DemoInput.Fate.THROUGH)
                    && topologyOut.deadLetters().size() >= expected.get(DemoInput.Fate.DEAD_LETTER);
            boolean done = topologyDone && applied >= lastSequence && lastSequence > 0 && status.version() == status.latestCommitted()
                    && !versions.isEmpty() && !Double.isNaN(versions.get(versions.size() - 1).retention());
            long now = System.nanoTime();
            if (done || now > nextLine) {
                console.printf(Locale.ROOT, "[%5.1f s] topology: %d/%d corrections through, %d dead letters; worker: sequence %d of %d; "
                                + "subscriber serves version %d%n", (now - started) / 1e9, through, expected.get(DemoInput.Fate.THROUGH),
                        topologyOut.deadLetters().size(), applied, lastSequence, status.version());
                console.flush();
                nextLine = now + PROGRESS_EVERY.toNanos();
            }
            if (done) {
                return true;
            }
            if (deployment.worker().crash().isPresent() || !deployment.worker().stoppedModels().isEmpty()) {
                throw new CommandFailure("the worker stopped: " + deployment.worker().crash().map(Throwable::toString)
                        .orElse(deployment.worker().stoppedModels().toString()));
            }
            if (now > deadline) {
                return false;
            }
            Thread.sleep(200);
        }
    }

    private static void printVersions(List<ChainObserver.VersionRow> versions, PrintWriter console) {
        console.println("checkpoints:");
        console.println("  version  edits  efficacy  specificity  retention  delta bytes");
        for (ChainObserver.VersionRow row : versions) {
            console.printf(Locale.ROOT, "  %7d  %5d  %8s  %11s  %9s  %11d%n", row.version(), row.edits(), DemoPage.fraction(row.efficacy()),
                    DemoPage.fraction(row.specificity()), DemoPage.fraction(row.retention()), row.deltaBytes());
        }
    }

    private static String prompt(CorrectionEvent fact) {
        return fact.getPrompt().contains("{}") ? fact.getPrompt().replace("{}", fact.getSubject()) : fact.getPrompt();
    }

    /** Each fact's prompt completed by the subscriber (4 tokens, greedy), over its HTTP endpoint. */
    private static List<String> ask(String http, List<CorrectionEvent> facts) throws IOException, InterruptedException {
        HttpClient client = HttpClient.newHttpClient();
        List<String> answers = new ArrayList<>();
        for (CorrectionEvent fact : facts) {
            String body = JSON.writeValueAsString(Map.of("prompt", prompt(fact), "max_tokens", 4));
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(http + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                throw new CommandFailure("the subscriber answered HTTP " + response.statusCode() + ": " + response.body());
            }
            answers.add(JSON.readTree(response.body()).get("choices").get(0).get("text").asText());
        }
        return answers;
    }

    /** The worker's settings for the demo's model: NSE with PRUNE, small evaluation samples. */
    private WorkerSettings worker(String modelId) throws IOException {
        WorkerSettings.ModelSettings settings;
        if (model == DemoModel.stories) {
            settings = new WorkerSettings.ModelSettings(SharedData.file("models/stories260K/stories260K.bin").getParent().toString(),
                    "nse+prune", "llama2c-stories", "cpu", new WorkerSettings.C0(WorkerSettings.SAMPLED_STORIES, 1000),
                    WorkerSettings.SAMPLED_STORIES, List.of("Once upon a time", "The cat sat on the"), 1, 8, 0,
                    new EvaluationSettings(8, 64, 4, 2));
        } else {
            List<CounterFactRecord> train = CounterFactReader.read(SharedData.file("data/counterfact/counterfact-train.json"));
            Path c0 = write(out.resolve("c0-corpus.txt"), train.subList(0, 1500));
            Path heldOut = write(out.resolve("held-out.txt"), train.subList(1500, 1600));
            settings = new WorkerSettings.ModelSettings(ModelOptions.resolve(Path.of(ModelOptions.TESTBED)).toString(), "nse+prune",
                    demoHyperparameters().toString(), "cpu", new WorkerSettings.C0(c0.toString(), c0Samples), heldOut.toString(),
                    train.subList(1600, 1608).stream().map(CounterFactRecord::prompt).toList(), 1, 8, 0, new EvaluationSettings(8, 128, 4, 4));
        }
        return new WorkerSettings("editstream-demo", "editstream-demo", 1_000, 10, 0, Map.of(modelId, settings));
    }

    /**
     * The testbed's tuned hyperparameters on its upper edit layer only, with a quarter of the target steps: one
     * 10,240-square inverse to set up instead of two, so that the demo fits a few minutes on two cores.
     */
    private Path demoHyperparameters() throws IOException {
        EditHyperparameters tuned = EditHyperparameters.load("testbed");
        EditHyperparameters.Target t = tuned.target();
        EditHyperparameters demo = new EditHyperparameters("the testbed's tuned hyperparameters on edit layer " + tuned.targetLayer()
                + " only, with 25 target steps: the demo's", List.of(tuned.targetLayer()), tuned.lambda(),
                new EditHyperparameters.Target(25, t.learningRate(), t.klFactor(), t.weightDecay(), t.clampNormFactor(), t.earlyStopNll()),
                tuned.contextTemplates(), tuned.secondMoment(), tuned.nse(), tuned.alphaEdit(), tuned.prune());
        Path file = out.resolve("testbed-demo-hyperparameters.json");
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(demo);
        if (!Files.exists(file) || !java.util.Arrays.equals(Files.readAllBytes(file), bytes)) {
            Files.write(file, bytes);
        }
        return file;
    }

    private static Path write(Path file, List<CounterFactRecord> facts) throws IOException {
        String text = facts.stream().map(fact -> fact.prompt() + " " + fact.groundTruth()).collect(Collectors.joining("\n"));
        // the same bytes every run: C0's stored name hashes them, so a later run finds the C0 computed before
        if (!Files.exists(file) || !Files.readString(file).equals(text)) {
            Files.writeString(file, text);
        }
        return file;
    }
}

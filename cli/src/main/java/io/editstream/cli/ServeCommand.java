package io.editstream.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import io.editstream.worker.EvaluationSettings;
import io.editstream.worker.WorkerSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code editstream serve}: the whole chain on the embedded platform, standing until Ctrl-C. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {
            "Start an embedded Kafka broker and Apicurio Registry, the corrections topology, the editor worker, a file-system "
                    + "checkpoint store and a fleet subscriber serving completions, and print the addresses a detector and a "
                    + "fleet client need. Runs until Ctrl-C; everything is kept in --data-dir, and a later serve on the same "
                    + "directory continues where this one stopped (same ports, same versions).",
            "Without --worker-config it edits stories260K (../shared/models/stories260K) as model id " + ServeCommand.STORIES + "."})
final class ServeCommand implements Callable<Integer> {
    static final String STORIES = "stories260k";

    @Spec
    CommandSpec spec;

    @Option(names = "--data-dir", defaultValue = "editstream-data", paramLabel = "DIR",
            description = "Where the broker, registry, topology state and store keep their data (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--worker-config", paramLabel = "FILE",
            description = "The worker's JSON configuration (see `editstream worker`); default: stories260K as " + STORIES + ".")
    Path workerConfig;

    @Option(names = "--models", split = ",", paramLabel = "MODEL",
            description = "Model ids to edit (default: every model of the worker configuration).")
    List<String> models;

    @Option(names = "--follow", paramLabel = "MODEL", description = "The model the subscriber serves (default: the first edited).")
    String followed;

    @Option(names = "--http-port", defaultValue = "8000", paramLabel = "PORT",
            description = "The subscriber's HTTP port on 127.0.0.1 (0: any free port; default: ${DEFAULT-VALUE}).")
    int httpPort;

    @Override
    public Integer call() throws IOException {
        if (httpPort < 0 || httpPort > 65_535) {
            throw new CommandFailure("--http-port takes 0..65535, got " + httpPort);
        }
        WorkerSettings worker;
        try {
            worker = workerConfig != null ? WorkerSettings.load(workerConfig) : storiesWorker();
        } catch (IllegalArgumentException e) {
            throw new CommandFailure(e.getMessage(), e);
        }
        List<String> edited = models != null ? models : worker.models().keySet().stream().sorted().toList();
        LocalDeployment.Options options;
        try {
            options = new LocalDeployment.Options(dataDir, dataDir.resolve("store"), worker, edited, LocalDeployment.Options.topologyFor(edited),
                    followed != null ? followed : edited.get(0), httpPort, 4);
        } catch (IllegalArgumentException e) {
            throw new CommandFailure(e.getMessage(), e);
        }
        PrintWriter out = spec.commandLine().getOut();
        try (LocalDeployment deployment = LocalDeployment.start(options)) {
            CountDownLatch stopped = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                deployment.close();
                stopped.countDown();
            }, "editstream-serve-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            printAddresses(deployment, options, out);
            try {
                deployment.subscriber().reportUntil(stopped, out);
            } finally {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shutdownInProgress) {
                    // the hook is closing the deployment; closing twice is harmless
                }
            }
        }
        return 0;
    }

    static void printAddresses(LocalDeployment deployment, LocalDeployment.Options options, PrintWriter out) {
        String http = "http://127.0.0.1:" + deployment.subscriber().server().port();
        out.println("editstream serving " + options.models() + " (data in " + options.dataDir().toAbsolutePath() + ")");
        out.println("  Kafka bootstrap            " + deployment.bootstrap());
        out.println("  schema registry (Apicurio) " + deployment.stack().registry().apiUrl());
        out.println("  schema registry (Confluent-compatible) " + deployment.stack().registry().confluentCompatibleUrl());
        out.println("  checkpoint store           " + deployment.storeDir());
        out.println("  HTTP (" + options.followed() + ")  " + http + "  POST /v1/completions, GET /v1/status, POST /v1/admin/target,"
                + " GET /metrics (Prometheus), GET /health");
        out.println("Ctrl-C stops it");
        out.flush();
    }

    /** stories260K under {@value #STORIES}: NSE with PRUNE, its C0 from 2,000 keys of sampled story text. */
    static WorkerSettings storiesWorker() {
        Path model = SharedData.file("models/stories260K/stories260K.bin").getParent();
        WorkerSettings.ModelSettings stories = new WorkerSettings.ModelSettings(model.toString(), "nse+prune", "llama2c-stories", "cpu",
                new WorkerSettings.C0(WorkerSettings.SAMPLED_STORIES, 2000), WorkerSettings.SAMPLED_STORIES,
                List.of("Once upon a time", "The cat sat on the", "The sun was", "It was a", "The little boy"), 1, 0, null,
                EvaluationSettings.DEFAULTS);
        return new WorkerSettings(null, null, 2_000, 10, 0, Map.of(STORIES, stories));
    }
}

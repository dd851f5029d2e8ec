package io.editstream.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.objects.ObjectStores;
import io.editstream.worker.EditorWorker;
import io.editstream.worker.WorkerSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code editstream worker}: applies edit requests to the configured models until SIGTERM or Ctrl-C. */
@Command(name = "worker", mixinStandardHelpOptions = true,
        description = {
            "Consume editstream.edit-requests (read_committed), apply each model's batches in order, write every version to "
                    + "the checkpoint store and publish it exactly once (CheckpointPublished, evaluations and offsets in one "
                    + "transaction). Runs until SIGTERM or Ctrl-C, which finish or abort the batch in progress.",
            "--worker-config is a JSON file mapping each model id to its model, editor, hyperparameters, device, C0 corpus and "
                    + "evaluation settings (see WorkerSettings)."})
final class WorkerCommand implements Callable<Integer> {

    @Mixin
    Endpoints endpoints;

    @Mixin
    MetricsOption metrics;

    @Option(names = "--store", required = true, paramLabel = "URI",
            description = "Checkpoint store: a directory, file:///PATH or s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION.")
    String store;

    @Option(names = "--models", required = true, split = ",", paramLabel = "MODEL", description = "Model ids to edit.")
    List<String> models;

    @Option(names = "--worker-config", required = true, paramLabel = "FILE", description = "The worker's JSON configuration.")
    Path workerConfig;

    @Option(names = "--snapshot-every", paramLabel = "N",
            description = "Store full tensors every N versions (default: the configuration's snapshotEvery).")
    Integer snapshotEvery;

    @Override
    public Integer call() throws IOException, InterruptedException {
        WorkerSettings settings;
        try {
            settings = WorkerSettings.load(workerConfig);
            settings.select(models);
        } catch (IllegalArgumentException e) {
            throw new CommandFailure(e.getMessage(), e);
        }
        endpoints.requireReachable();
        int snapshots = snapshotEvery != null ? snapshotEvery : settings.snapshotEvery();
        try (CheckpointStore checkpoints = new CheckpointStore(ObjectStores.open(store), snapshots);
             Telemetry telemetry = metrics.start()) {
            EditorWorker worker;
            try {
                worker = EditorWorker.start(endpoints.kafka(), endpoints.serdes(), checkpoints,
                        settings, models);
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new CommandFailure("cannot start the worker: " + e.getMessage(), e);
            }
            telemetry.bindWorker(worker);
            // SIGTERM and SIGINT run the hooks: the batch in progress commits (or aborts) before the JVM exits
            Thread hook = new Thread(worker::close, "editstream-worker-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            PrintWriter out = new PrintWriter(System.out, true);
            out.println("editor worker running on " + endpoints.bootstrapServers() + " for models " + models
                    + " (store " + store + "); SIGTERM or Ctrl-C stops it");
            // the meters of what the worker committed are read back from the topics only when someone scrapes them
            try (ChainObserver observer = metrics.port == null ? null
                    : new ChainObserver(endpoints.kafka(), endpoints.serdes(), checkpoints, telemetry.registry())) {
                while (!worker.awaitTermination(Duration.ofSeconds(30))) {
                    out.println("applied through sequences " + worker.lastApplied() + stoppedNote(worker.stoppedModels()));
                }
            }
            if (worker.crash().isPresent()) {
                Runtime.getRuntime().removeShutdownHook(hook);
                throw new CommandFailure("the editor worker failed: " + worker.crash().get(), worker.crash().get());
            }
            return 0;
        }
    }

    private static String stoppedNote(Map<String, String> stopped) {
        return stopped.isEmpty() ? "" : "; stopped: " + stopped;
    }
}

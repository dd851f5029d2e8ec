package io.editstream.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import ai.djl.Device;
import io.editstream.checkpoint.follow.CheckpointFollower;
import io.editstream.checkpoint.follow.FollowTarget;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code editstream follow}: the fleet subscriber, optionally serving completions, until Ctrl-C. */
@Command(name = "follow", mixinStandardHelpOptions = true,
        description = {
            "Follow a model's versions on editstream.checkpoints (read_committed): fetch and verify each version's blobs "
                    + "from the store, apply them to this process's copy of the weights (a late start begins at the nearest "
                    + "snapshot) and report the version it is on. A corrupt blob, a broken chain or a version for another base "
                    + "is refused with its reason and the current version stays. Runs until Ctrl-C.",
            "With --serve PORT it answers POST /v1/completions (OpenAI-style: prompt, max_tokens; greedy) and "
                    + "GET /v1/status on 127.0.0.1, swapping versions between requests, never during one."})
final class FollowCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    Endpoints endpoints;

    @Mixin
    MetricsOption metrics;

    @Option(names = "--store", required = true, paramLabel = "URI",
            description = "Checkpoint store: a directory, file:///PATH or s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION.")
    String store;

    @Option(names = "--model", required = true, paramLabel = "MODEL", description = "The model id to follow.")
    String modelId;

    static final class Target {
        @Option(names = "--pin", paramLabel = "V", description = "Serve version V and stay on it (waits until it is published).")
        Long pin;

        @Option(names = "--rollback-to", paramLabel = "V",
                description = "Move back to committed version V and stay on it (0: the base).")
        Long rollbackTo;

        FollowTarget target() {
            return pin != null ? new FollowTarget.Pinned(pin) : new FollowTarget.RolledBack(rollbackTo);
        }
    }

    @ArgGroup(exclusive = true)
    Target target;

    @Option(names = "--serve", paramLabel = "PORT", description = "Answer completions on http://127.0.0.1:PORT (0: any free port).")
    Integer port;

    @Option(names = "--weights", paramLabel = "DIR_OR_FILE",
            description = "The base model to serve (with --serve; default: the source the store's base names).")
    Path weights;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|gpu", description = "Device to serve on (default: ${DEFAULT-VALUE}).")
    ModelOptions.DeviceKind device;

    @Option(names = "--threads", defaultValue = "4", paramLabel = "N", description = "Requests answered at once (default: ${DEFAULT-VALUE}).")
    int threads;

    @Override
    public Integer call() throws IOException {
        if (port != null && (port < 0 || port > 65_535)) {
            throw new CommandFailure("--serve takes a port 0..65535, got " + port);
        }
        if (threads < 1) {
            throw new CommandFailure("--threads must be at least 1, got " + threads);
        }
        if (target != null && (target.pin != null ? target.pin : target.rollbackTo) < 0) {
            throw new CommandFailure("versions are 0 (the base) or more");
        }
        endpoints.requireReachable();
        PrintWriter out = spec.commandLine().getOut();
        CheckpointFollower.Settings settings = CheckpointFollower.Settings.of(endpoints.bootstrapServers(),
                endpoints.serdes(), modelId).withKafkaConfig(endpoints.kafka());
        if (target != null) {
            settings = settings.withStart(target.target());
        }
        FleetSubscriber.Serving serving = port == null ? null
                : new FleetSubscriber.Serving(port, weights, device == ModelOptions.DeviceKind.gpu ? Device.gpu() : Device.cpu(), threads);
        try (FleetSubscriber subscriber = FleetSubscriber.start(store, settings, serving);
             Telemetry telemetry = metrics.start()) {
            telemetry.bindFollower(subscriber.follower());
            if (subscriber.server() != null) {
                telemetry.serveOn(subscriber.server());
            }
            CountDownLatch stopped = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                subscriber.close();
                stopped.countDown();
            }, "editstream-follow-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            out.println("following " + modelId + " on " + endpoints.bootstrapServers() + " (store " + store + ")"
                    + (subscriber.server() == null ? "" : "; completions on http://127.0.0.1:" + subscriber.server().port()
                    + "/v1/completions") + "; Ctrl-C stops it");
            out.flush();
            try {
                subscriber.reportUntil(stopped, out);
            } finally {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shutdownInProgress) {
                    // the hook is closing the subscriber too; closing twice is harmless
                }
            }
        }
        return 0;
    }
}

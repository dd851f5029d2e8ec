package io.editstream.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;

import io.editstream.streams.CorrectionsApp;
import io.editstream.streams.PipelineMetrics;
import io.editstream.streams.TopologySettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code editstream streams}: runs the corrections topology until interrupted, printing progress. */
@Command(name = "streams", mixinStandardHelpOptions = true,
        description = {
            "Run the corrections -> edit-requests topology (exactly-once) until Ctrl-C.",
            "--config takes a properties file with editstream.* keys (see TopologySettings), apicurio.registry.* keys for "
                    + "the serde, and any Kafka client and Kafka Streams settings."})
final class StreamsCommand implements Callable<Integer> {
    private static final String DEFAULT_APPLICATION_ID = "editstream-corrections";

    @Spec
    CommandSpec spec;

    @Mixin
    Endpoints endpoints;

    @Mixin
    MetricsOption metrics;

    @Option(names = "--models", split = ",", paramLabel = "MODEL",
            description = "Models the deployment edits (overrides editstream.models of --config).")
    List<String> models;

    @Option(names = "--state-dir", paramLabel = "DIR", description = "Kafka Streams state directory.")
    Path stateDir;

    @Option(names = "--create-topics", description = "Create the topology's topics when they do not exist.")
    boolean createTopics;

    @Option(names = "--partitions", defaultValue = "3", paramLabel = "N",
            description = "Partitions of topics created by --create-topics (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--replication-factor", defaultValue = "1", paramLabel = "N",
            description = "Replication factor of topics created by --create-topics (default: ${DEFAULT-VALUE}).")
    short replicationFactor;

    @Option(names = "--progress-every", defaultValue = "10", paramLabel = "SECONDS",
            description = "Seconds between progress lines (default: ${DEFAULT-VALUE}).")
    int progressSeconds;

    @Override
    public Integer call() throws IOException {
        Properties properties = endpoints.config().editstreamProperties();
        if (models != null) {
            properties.setProperty(TopologySettings.MODELS, String.join(",", models));
        }
        if (properties.getProperty(TopologySettings.MODELS) == null) {
            throw new ParameterException(spec.commandLine(),
                    "name the models to edit: --models m1,m2 or " + TopologySettings.MODELS + " in --config");
        }
        if (progressSeconds < 1 || partitions < 1 || replicationFactor < 1) {
            throw new ParameterException(spec.commandLine(),
                    "--progress-every, --partitions and --replication-factor must be at least 1");
        }
        TopologySettings settings;
        try {
            settings = TopologySettings.fromProperties(properties);
        } catch (IllegalArgumentException e) {
            throw new CommandFailure("invalid topology setting: " + e.getMessage(), e);
        }

        endpoints.requireReachable();
        prepareTopics(settings);

        CorrectionsApp app;
        try {
            app = CorrectionsApp.start(endpoints.bootstrapServers(), settings,
                    endpoints.serdes(), streamsOverrides());
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new CommandFailure("cannot start the corrections topology: " + e.getMessage(), e);
        }
        Telemetry telemetry;
        try {
            telemetry = metrics.start();
        } catch (IOException | RuntimeException e) {
            app.close();
            throw e instanceof CommandFailure failure ? failure : new CommandFailure("cannot serve metrics: " + e.getMessage(), e);
        }
        telemetry.bindStreams(app, settings);
        CountDownLatch stopped = new CountDownLatch(1);
        Thread shutdownHook = new Thread(() -> {
            app.close();
            stopped.countDown();
        }, "editstream-streams-shutdown");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        PrintWriter out = spec.commandLine().getOut();
        out.println("corrections topology running on " + endpoints.bootstrapServers() + " for models "
                + settings.knownModels() + "; Ctrl-C stops it");
        out.flush();
        try {
            while (!awaitStop(stopped)) {
                KafkaStreams.State state = app.state();
                if (state == KafkaStreams.State.ERROR || state == KafkaStreams.State.PENDING_ERROR) {
                    throw new CommandFailure("the corrections topology stopped (state " + state + "): "
                            + app.failure().orElse("see the log"));
                }
                out.println(progressLine(app.metrics(), settings));
                out.flush();
            }
        } finally {
            telemetry.close();
            if (stopped.getCount() > 0) {
                // Closing waits for the stream threads; an interrupt flag left set would cut that wait short.
                boolean interrupted = Thread.interrupted();
                try {
                    Runtime.getRuntime().removeShutdownHook(shutdownHook);
                } catch (IllegalStateException shutdownInProgress) {
                    // The hook is closing the app too; closing twice is harmless.
                }
                app.close();
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        return 0;
    }

    /** True once the shutdown hook closed the app, or when this thread is interrupted (an embedding caller's stop). */
    private boolean awaitStop(CountDownLatch stopped) {
        try {
            return stopped.await(progressSeconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }

    /** The Kafka keys of --config go to Kafka Streams (and its clients). */
    private Map<String, Object> streamsOverrides() {
        Map<String, Object> overrides = endpoints.kafka();
        overrides.putIfAbsent(StreamsConfig.APPLICATION_ID_CONFIG, DEFAULT_APPLICATION_ID);
        if (stateDir != null) {
            overrides.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        }
        return overrides;
    }

    /** Creates missing topics when asked; otherwise fails clearly instead of letting the app wait for them. */
    private void prepareTopics(TopologySettings settings) {
        try (Admin admin = Admin.create(endpoints.kafka())) {
            if (createTopics) {
                CorrectionsApp.createTopics(admin, settings, partitions, replicationFactor);
            }
            Set<String> existing = admin.listTopics().names().get(Endpoints.CONNECT_TIMEOUT.toSeconds(),
                    TimeUnit.SECONDS);
            List<String> missing = CorrectionsApp.topicPartitions(settings, partitions).keySet().stream()
                    .filter(topic -> !existing.contains(topic)).sorted().toList();
            if (!missing.isEmpty()) {
                throw new CommandFailure("topics " + missing + " do not exist on " + endpoints.bootstrapServers()
                        + "; create them or pass --create-topics");
            }
        } catch (ExecutionException | TimeoutException e) {
            throw new CommandFailure("cannot list the topics of " + endpoints.bootstrapServers() + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommandFailure("interrupted while checking topics", e);
        }
    }

    private static String progressLine(Map<MetricName, ? extends Metric> metrics, TopologySettings settings) {
        return "in " + Telemetry.topicTotal(metrics, "records-consumed-total", settings.correctionsTopic())
                + " corrections; out " + Telemetry.topicTotal(metrics, "records-produced-total", settings.editRequestsTopic())
                + " batches, " + Telemetry.topicTotal(metrics, "records-produced-total", settings.deadLetterTopic())
                + " dead letters; dropped " + PipelineMetrics.total(metrics, PipelineMetrics.EXACT_DUPLICATES)
                + " + " + PipelineMetrics.total(metrics, PipelineMetrics.SEMANTIC_DUPLICATES)
                + " duplicates (id + fact); superseded " + PipelineMetrics.total(metrics, PipelineMetrics.SUPERSEDED)
                + "; late " + PipelineMetrics.total(metrics, PipelineMetrics.LATE);
    }
}

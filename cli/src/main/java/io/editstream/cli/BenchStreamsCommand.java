package io.editstream.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;

import io.editstream.embedded.EmbeddedStack;
import io.editstream.events.SerdeSettings;
import io.editstream.streams.bench.StreamsBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code editstream bench streams}: the corrections topology end to end on the embedded broker and registry,
 * exactly-once on. Throughput from the first produce to the last edit seen; added latency per correction from its
 * send to its edit's arrival, minus the grace period it is held for by design.
 */
@Command(name = "streams", mixinStandardHelpOptions = true,
        description = "Benchmark the corrections -> edit-requests topology on the embedded broker (exactly-once).")
final class BenchStreamsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--events", defaultValue = "200000", paramLabel = "N",
            description = "Corrections to send, all valid and unique (default: ${DEFAULT-VALUE}).")
    int events;

    @Option(names = "--models", defaultValue = "5", paramLabel = "N",
            description = "Models the corrections are spread over (default: ${DEFAULT-VALUE}).")
    int models;

    @Option(names = "--partitions", paramLabel = "N",
            description = "Partitions of the corrections and edit-requests topics (default: one per model).")
    Integer partitions;

    @Option(names = "--grace-ms", defaultValue = "2000", paramLabel = "MS",
            description = "Reorder grace period (default: ${DEFAULT-VALUE}).")
    long graceMs;

    @Option(names = "--batch", defaultValue = "1", paramLabel = "N",
            description = "Edits per batch (default: ${DEFAULT-VALUE}, pure sequential editing).")
    int batch;

    @Option(names = "--batch-linger-ms", defaultValue = "100", paramLabel = "MS",
            description = "Batch linger time (default: ${DEFAULT-VALUE}).")
    long lingerMs;

    @Option(names = "--threads", defaultValue = "1", paramLabel = "N",
            description = "Kafka Streams threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--commit-interval-ms", defaultValue = "100", paramLabel = "MS",
            description = "Kafka Streams commit interval, one transaction each (default: ${DEFAULT-VALUE}).")
    long commitMs;

    @Option(names = "--timeout-s", defaultValue = "600", paramLabel = "SECONDS",
            description = "Give up waiting for the edits after this long (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--rate", defaultValue = "0", paramLabel = "PER_SECOND",
            description = "Send at this rate to measure latency below capacity; 0 = as fast as possible "
                    + "(default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the result as JSON to this file.")
    Path json;

    @Override
    public Integer call() throws Exception {
        if (events < 1 || models < 1 || batch < 1 || threads < 1 || commitMs < 1 || graceMs < 0 || lingerMs < 0
                || rate < 0 || (partitions != null && partitions < 1)) {
            throw new ParameterException(spec.commandLine(), "--events, --models, --partitions, --batch, --threads and "
                    + "--commit-interval-ms must be positive; --grace-ms, --batch-linger-ms and --rate must not be "
                    + "negative");
        }
        Path stateDir = Files.createTempDirectory("editstream-bench-streams-");
        try (EmbeddedStack stack = EmbeddedStack.start(Map.of())) {
            var options = new StreamsBenchmark.Options(events, models, partitions == null ? models : partitions,
                    Duration.ofMillis(graceMs), batch, Duration.ofMillis(lingerMs), threads,
                    Duration.ofMillis(commitMs), stateDir, Duration.ofSeconds(timeoutSeconds), rate);
            StreamsBenchmark.Result result = StreamsBenchmark.run(stack.kafka().bootstrapServers(),
                    SerdeSettings.apicurio(stack.registry().apiUrl()), options);
            if (json != null) {
                try {
                    Files.writeString(json, result.toJson() + System.lineSeparator(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new CommandFailure("cannot write " + json + ": " + e.getMessage(), e);
                }
            }
            PrintWriter out = spec.commandLine().getOut();
            out.println(result.summary());
            if (json != null) {
                out.println("JSON written to " + json);
            }
            out.flush();
            return 0;
        } catch (IllegalStateException e) {
            throw new CommandFailure("streams benchmark failed: " + e.getMessage(), e);
        } finally {
            TempDirectory.delete(stateDir);
        }
    }
}

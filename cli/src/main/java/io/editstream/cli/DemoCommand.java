package io.editstream.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

import io.editstream.cli.demo.Demo;
import io.editstream.cli.demo.DemoOptions;
import io.editstream.cli.demo.DemoOutcome;
import io.editstream.cli.demo.DemoReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code editstream demo}: the whole pipeline on an embedded platform, fed a generated stream of corrections. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {
            "Start an embedded Kafka broker and schema registry, run the corrections topology, feed it corrections "
                    + "built from real CounterFact facts (with duplicates, conflicts, out-of-order and malformed "
                    + "records) and print what reached edit-requests and the dead-letter queue."})
final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--models", split = ",", paramLabel = "MODEL", defaultValue = "stories260K,gpt2-xl",
            description = "Models the deployment edits (default: ${DEFAULT-VALUE}).")
    List<String> models;

    @Option(names = "--facts", paramLabel = "N", defaultValue = "10",
            description = "New corrections per model, at least 8 (default: ${DEFAULT-VALUE}).")
    int factsPerModel;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "4",
            description = "Most edits per batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--seed", defaultValue = "7", description = "Picks the facts and the noise (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--counterfact", paramLabel = "FILE",
            description = "CounterFact file to take facts from (default: the shared counterfact-train.json).")
    Path counterFact;

    @Override
    public Integer call() {
        if (factsPerModel < 8) {
            throw new ParameterException(spec.commandLine(), "--facts must be at least 8");
        }
        if (batchSize < 1) {
            throw new ParameterException(spec.commandLine(), "--batch-size must be at least 1");
        }
        Path facts = counterFact != null ? counterFact : SharedData.file("data/counterfact/counterfact-train.json");
        DemoOptions options = new DemoOptions(facts, models, factsPerModel, batchSize, Duration.ofMillis(500),
                Duration.ofSeconds(2), seed, Duration.ofSeconds(45));
        DemoOutcome outcome = Demo.run(options);
        DemoReport.print(outcome, spec.commandLine().getOut());
        if (!outcome.complete()) {
            throw new CommandFailure("not everything fed came out of the topology in time (see INCOMPLETE above)");
        }
        return 0;
    }
}

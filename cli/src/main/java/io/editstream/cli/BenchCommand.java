package io.editstream.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code editstream bench}: the benchmarks, one subcommand each. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure the pipeline: run one of the benchmarks below.",
        subcommands = {
            BenchStreamsCommand.class,
            BenchEditCommand.class,
            BenchCheckpointsCommand.class,
            BenchWorkerCommand.class,
            BenchFollowCommand.class,
        })
final class BenchCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing benchmark: name one of "
                + spec.subcommands().keySet());
    }
}

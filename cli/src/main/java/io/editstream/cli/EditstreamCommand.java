package io.editstream.cli;

import java.io.PrintWriter;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code editstream} command. Exit status: 0 success, 1 a runtime failure (one line on stderr, the stack trace
 * only with {@code --verbose}), 2 a usage error (message and usage on stderr).
 */
@Command(name = "editstream",
        mixinStandardHelpOptions = true,
        version = "editstream 0.1.0",
        description = "Turns a stream of correction events into sequential weight edits of a served model.",
        subcommands = {
            DemoCommand.class,
            ProduceCommand.class,
            StreamsCommand.class,
            GenerateCommand.class,
            BenchCommand.class,
            TestbedCommand.class,
            CheckpointsCommand.class,
            WorkerCommand.class,
            FollowCommand.class,
            ReplayCommand.class,
            ServeCommand.class,
        })
public final class EditstreamCommand implements Runnable {
    public static final int EXIT_FAILURE = 1;

    @Spec
    CommandSpec spec;

    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "Print stack traces of failures.")
    boolean verbose;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command");
    }

    /**
     * Apicurio's client logs through java.util.logging, which logback does not see; held here because JUL keeps
     * only weak references to configured loggers.
     */
    private static final java.util.logging.Logger APICURIO_JUL = java.util.logging.Logger.getLogger("io.apicurio");

    public static void main(String[] args) {
        APICURIO_JUL.setLevel(java.util.logging.Level.SEVERE);
        System.exit(commandLine().execute(args));
    }

    /** The command line with editstream's failure reporting: use this, not a bare {@code new CommandLine(...)}. */
    public static CommandLine commandLine() {
        return new CommandLine(new EditstreamCommand())
                .setExecutionExceptionHandler(EditstreamCommand::reportFailure);
    }

    private static int reportFailure(Exception failure, CommandLine command, ParseResult parsed) {
        PrintWriter err = command.getErr();
        err.println(command.getCommandSpec().qualifiedName() + ": " + describe(failure));
        if (verbose(parsed)) {
            failure.printStackTrace(err);
        }
        err.flush();
        return EXIT_FAILURE;
    }

    /** A failure as one line: the message of a {@link CommandFailure}, else the exception chain in brief. */
    static String describe(Throwable failure) {
        if (failure instanceof CommandFailure) {
            return failure.getMessage();
        }
        StringBuilder line = new StringBuilder();
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String message = t.getMessage();
            if (line.length() > 0) {
                line.append(" <- ");
            }
            line.append(t.getClass().getSimpleName());
            if (message != null && !message.isBlank()) {
                line.append(": ").append(message.strip());
            }
        }
        return line.toString();
    }

    private static boolean verbose(ParseResult parsed) {
        for (ParseResult p = parsed; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--verbose")) {
                return true;
            }
        }
        return false;
    }
}

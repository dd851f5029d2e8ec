package io.editstream.cli;

import ai.djl.Device;
import io.editstream.model.format.StoredType;
import io.editstream.train.TestbedTraining;
import io.editstream.train.TestbedShape;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code editstream testbed}: the project's own small model that knows CounterFact's true facts. */
@Command(name = "testbed", mixinStandardHelpOptions = true,
        description = "The testbed model: a small Llama trained by the project on CounterFact's true facts.",
        subcommands = {
            TestbedCommand.Train.class,
        })
final class TestbedCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command: name one of " + spec.subcommands().keySet());
    }

    /** {@code editstream testbed train}: trains from scratch and writes config.json, model.safetensors, tokenizer.json. */
    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Train the testbed on the true facts of CounterFact (CPU, single thread, fixed seed: the same "
                    + "command writes the same bytes) and write it in HuggingFace layout.")
    static final class Train implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory to write the model to.")
        Path out;

        @Option(names = "--facts", paramLabel = "N", defaultValue = "" + TestbedTraining.DEFAULT_FACTS,
                description = "About how many facts (3 per case): the first 1,000 edit-split cases, then train-split cases (default: ${DEFAULT-VALUE}).")
        int facts;

        @Option(names = "--paraphrases", paramLabel = "N", defaultValue = "" + TestbedTraining.DEFAULT_PARAPHRASES,
                description = "Other templates of its relation each rewrite and locality fact is also said through, so the "
                        + "fact lives at the subject where an edit can reach it (default: ${DEFAULT-VALUE}).")
        int paraphrases;

        @Option(names = "--steps", paramLabel = "N", defaultValue = "" + TestbedTraining.DEFAULT_STEPS,
                description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
        int steps;

        @Option(names = "--batch", paramLabel = "N", defaultValue = "" + TestbedTraining.DEFAULT_BATCH,
                description = "Sequences per step (default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--seed", paramLabel = "S", defaultValue = "" + TestbedTraining.DEFAULT_SEED,
                description = "Seed of the initial weights and the order of the facts (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = TestbedTraining.DEFAULT_DTYPE,
                description = "How the weights are stored: float32 or float16 (half the size; each weight rounded) (default: ${DEFAULT-VALUE}).")
        String dtype;

        @Option(names = "--activation-l1", paramLabel = "W", defaultValue = "" + TestbedTraining.DEFAULT_ACTIVATION_L1,
                description = "Weight of the mean |MLP key| in the loss: each subject then uses few neurons of its own, "
                        + "which an edit can change without touching the others' (default: ${DEFAULT-VALUE}).")
        double activationL1;

        @Option(names = "--edit-split", paramLabel = "FILE", description = "counterfact-edit.json (default: from the shared data).")
        Path editSplit;

        @Option(names = "--train-split", paramLabel = "FILE", description = "counterfact-train.json (default: from the shared data).")
        Path trainSplit;

        @Override
        public Integer call() {
            // one intra-op thread: the same command must give the same bytes (read by DJL when the engine starts)
            if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
                System.setProperty("ai.djl.pytorch.num_threads", "1");
            }
            Path edit = editSplit != null ? editSplit : SharedData.file("data/counterfact/counterfact-edit.json");
            Path train = trainSplit != null ? trainSplit : SharedData.file("data/counterfact/counterfact-train.json");
            TestbedShape shape = TestbedTraining.DEFAULT_SHAPE;
            try {
                TestbedTraining.Outcome outcome = TestbedTraining.run(edit, train, out, facts, paraphrases,
                        TestbedTraining.settings(shape, steps, batch, seed, activationL1), StoredType.ofTorchName(dtype), Device.cpu());
                PrintWriter stdout = spec.commandLine().getOut();
                stdout.printf("wrote %s: %d parameters, trained in %.0f s; first edit-split cases known: %s%n",
                        outcome.directory(), outcome.parameters(), outcome.seconds(), outcome.benchmarkRecall());
                stdout.flush();
                return 0;
            } catch (IOException e) {
                throw new CommandFailure("cannot train the testbed into " + out + ": " + e.getMessage(), e);
            } catch (IllegalArgumentException e) {
                throw new CommandFailure("cannot train the testbed: " + e.getMessage(), e);
            }
        }
    }
}

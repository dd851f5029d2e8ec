package io.editstream.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.model.Generation;
import io.editstream.model.Generator;
import io.editstream.model.LanguageModel;
import io.editstream.model.format.ModelLoader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code editstream generate}: greedy text from a model, printed the way llama2.c's {@code run} prints it. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text greedily (argmax) from BOS or a prompt and print it.")
public final class GenerateCommand implements Callable<Integer> {

    /** Where the model runs. */
    enum DeviceKind { cpu, gpu }

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR_OR_FILE",
            description = "A HuggingFace model directory, a llama2.c .bin file, a directory holding one with its tok*.bin, "
                    + "or 'testbed' (the repository's models/testbed).")
    Path model;

    @Option(names = "--max-tokens", defaultValue = "256", paramLabel = "N",
            description = "Steps to run, as in llama2.c's -n (default: ${DEFAULT-VALUE}; 0 = the whole context).")
    int maxTokens;

    @Option(names = "--prompt", defaultValue = "", paramLabel = "TEXT", description = "Text to continue (default: start from BOS).")
    String prompt;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|gpu", description = "Device to run on (default: ${DEFAULT-VALUE}).")
    DeviceKind device;

    @Override
    public Integer call() {
        Device target = device == DeviceKind.gpu ? Device.gpu() : Device.cpu();
        try (LanguageModel languageModel = ModelLoader.load(RepositoryModels.resolve(model), target);
             NDManager manager = NDManager.newBaseManager(target)) {
            Generation generation = new Generator(languageModel).greedy(manager, prompt, maxTokens);
            PrintWriter out = spec.commandLine().getOut();
            out.print(new String(generation.printed(), StandardCharsets.UTF_8));
            out.flush();
            return 0;
        } catch (IOException e) {
            throw new CommandFailure("cannot load model " + model + ": " + e.getMessage(), e);
        }
    }
}

package io.editstream.cli;

import ai.djl.ndarray.NDManager;
import io.editstream.model.Generation;
import io.editstream.model.Generator;
import io.editstream.model.LanguageModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/** {@code editstream generate}: greedy text from a model, printed the way llama2.c's {@code run} prints it. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text greedily (argmax) from BOS or a prompt and print it.")
public final class GenerateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--max-tokens", defaultValue = "256", paramLabel = "N",
            description = "Steps to run, as in llama2.c's -n (default: ${DEFAULT-VALUE}; 0 = the whole context).")
    int maxTokens;

    @Option(names = "--prompt", defaultValue = "", paramLabel = "TEXT", description = "Text to continue (default: start from BOS).")
    String prompt;

    @Override
    public Integer call() {
        try (LanguageModel languageModel = model.load();
             NDManager manager = NDManager.newBaseManager(model.device())) {
            Generation generation = new Generator(languageModel).greedy(manager, prompt, maxTokens);
            PrintWriter out = spec.commandLine().getOut();
            out.print(new String(generation.printed(), StandardCharsets.UTF_8));
            out.flush();
            return 0;
        }
    }
}

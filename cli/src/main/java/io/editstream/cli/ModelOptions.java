package io.editstream.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import ai.djl.Device;
import io.editstream.model.LanguageModel;
import io.editstream.model.format.ModelLoader;
import picocli.CommandLine.Option;

/** The {@code --model} and {@code --device} options of every command that runs a model, and how it is loaded. */
final class ModelOptions {
    static final String TESTBED = "testbed";

    /** Where the model runs. */
    enum DeviceKind { cpu, gpu }

    @Option(names = "--model", required = true, paramLabel = "DIR_OR_FILE",
            description = "A HuggingFace model directory, a llama2.c .bin file, a directory holding one with its tok*.bin, "
                    + "or 'testbed' (the repository's models/testbed).")
    Path model;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|gpu", description = "Device to run on (default: ${DEFAULT-VALUE}).")
    DeviceKind device;

    Device device() {
        return device == DeviceKind.gpu ? Device.gpu() : Device.cpu();
    }

    /** The model's path: {@code testbed} stands for the repository's {@code models/testbed}. */
    Path path() {
        return resolve(model);
    }

    /** Loads the model onto {@link #device()}; a {@link CommandFailure} naming the path when it cannot. */
    LanguageModel load() {
        try {
            return ModelLoader.load(path(), device());
        } catch (IOException e) {
            throw new CommandFailure("cannot load model " + model + ": " + e.getMessage(), e);
        }
    }

    /**
     * An existing path is taken as it is; {@code testbed} names {@code models/testbed} under the checkout the launcher
     * runs from (system property {@code editstream.home}), else under the working directory.
     */
    static Path resolve(Path given) {
        if (Files.exists(given) || !given.toString().equals(TESTBED)) {
            return given;
        }
        Path testbed = Path.of(System.getProperty("editstream.home", ".")).resolve("models").resolve(TESTBED);
        return Files.isDirectory(testbed) ? testbed : given;
    }
}

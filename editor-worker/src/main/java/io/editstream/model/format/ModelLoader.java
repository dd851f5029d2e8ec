package io.editstream.model.format;

import ai.djl.Device;
import io.editstream.model.LanguageModel;
import io.editstream.model.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Loads a model from whatever the path is: a HuggingFace directory ({@code config.json}), a llama2.c {@code .bin}
 * file with its tokenizer beside it, or a directory holding a llama2.c model and tokenizer.
 */
public final class ModelLoader {

    private ModelLoader() {
    }

    public static LanguageModel load(Path path, Device device) throws IOException {
        if (Files.isDirectory(path)) {
            if (HuggingFaceCheckpoint.isCheckpoint(path)) {
                return HuggingFaceCheckpoint.load(path, device);
            }
            List<Path> bins = binFiles(path);
            List<Path> tokenizers = bins.stream().filter(ModelLoader::isLlama2cTokenizer).toList();
            List<Path> models = bins.stream().filter(p -> !isLlama2cTokenizer(p)).toList();
            if (models.size() != 1 || tokenizers.size() != 1) {
                throw new ModelFormatException(path + ": neither a HuggingFace directory (no config.json) nor a llama2.c directory "
                        + "with exactly one model .bin and one tokenizer .bin (tok*.bin); found " + bins);
            }
            return Llama2cCheckpoint.load(models.get(0), tokenizers.get(0), device);
        }
        if (Files.isRegularFile(path) && path.getFileName().toString().endsWith(".bin")) {
            List<Path> tokenizers = binFiles(path.toAbsolutePath().getParent()).stream().filter(ModelLoader::isLlama2cTokenizer).toList();
            if (tokenizers.size() != 1) {
                throw new ModelFormatException(path + ": a llama2.c model needs exactly one tokenizer (tok*.bin) beside it; found " + tokenizers);
            }
            return Llama2cCheckpoint.load(path, tokenizers.get(0), device);
        }
        throw new ModelFormatException(path + ": not a model: expected a HuggingFace directory, a llama2.c .bin file, or a directory holding one");
    }

    private static boolean isLlama2cTokenizer(Path file) {
        return file.getFileName().toString().startsWith("tok");
    }

    private static List<Path> binFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().endsWith(".bin")).sorted().toList();
        }
    }
}

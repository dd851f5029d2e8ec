package io.editstream.worker;

import ai.djl.ndarray.NDManager;
import io.editstream.edit.SampledCorpus;
import io.editstream.model.LanguageModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The texts a model's settings name: a file, or {@value WorkerSettings#SAMPLED_STORIES} for a llama2.c story model,
 * whose training text is not at hand and whose own seeded samples stand in for it (the same samples
 * {@code bench edit} uses: seed 42 for C0, 43 for held-out text, so the two never share a story).
 */
final class ModelTexts {

    private ModelTexts() {
    }

    static String c0Corpus(String source, LanguageModel model, NDManager manager) {
        return read(source, model, manager, 3, 42);
    }

    static String heldOut(String source, LanguageModel model, NDManager manager) {
        return read(source, model, manager, 1, 43);
    }

    private static String read(String source, LanguageModel model, NDManager manager, int perOpening, long seed) {
        if (source.equals(WorkerSettings.SAMPLED_STORIES)) {
            return SampledCorpus.sample(model, manager, SampledCorpus.STORY_OPENINGS, perOpening, 60, seed);
        }
        try {
            return Files.readString(Path.of(source));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + source + ": " + e.getMessage(), e);
        }
    }
}

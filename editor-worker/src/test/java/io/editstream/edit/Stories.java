package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import io.editstream.model.SharedData;
import io.editstream.model.format.ModelLoader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The stories260K test model and its C0. stories260K was trained on TinyStories and knows no Wikipedia, so its
 * C0 comes from story text it samples itself (seeded, so every run gets the same text): the closest thing
 * to its training text that the project can make without shipping data.
 */
public final class Stories {

    public static final EditHyperparameters HYPERPARAMETERS = EditHyperparameters.load("llama2c-stories");
    private static String corpus;
    private static Map<Integer, FloatMatrix> secondMoments;

    private Stories() {
    }

    public static Path shared() {
        return SharedData.root();
    }

    public static LanguageModel load() {
        try {
            return ModelLoader.load(shared().resolve("models/stories260K"), Device.cpu());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** About 1,500 tokens of stories the model samples from fixed openings with a fixed seed. */
    public static synchronized String corpus(LanguageModel model, NDManager manager) {
        if (corpus == null) {
            corpus = SampledCorpus.sample(model, manager, SampledCorpus.STORY_OPENINGS, 3, 60, 42);
        }
        return corpus;
    }

    /** C0 of the edit layers over {@link #corpus}, computed once per test JVM. */
    public static synchronized Map<Integer, FloatMatrix> secondMoments(LanguageModel model, NDManager manager) {
        if (secondMoments == null) {
            secondMoments = SecondMomentStats.compute(manager, model, HYPERPARAMETERS.layerArray(), corpus(model, manager),
                    HYPERPARAMETERS.secondMoment().samples(), 64);
        }
        return secondMoments;
    }
}

package io.editstream.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.editstream.model.ModelConfig;
import io.editstream.model.Weights;
import io.editstream.model.llama.LlamaConfig;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Seeded initial weights (GPT-2's scheme): norm gains 1, every matrix N(0, 0.02²), and the two projections that write
 * into the residual stream scaled down by √(2 · layers) so the stream does not grow with depth.
 */
final class InitialWeights {

    private static final double STD = 0.02;

    private InitialWeights() {
    }

    /** Draws from {@code java.util.Random(seed)} in the canonical (name-sorted) order, so a seed gives the same bytes. */
    static Weights create(ModelConfig config, long seed, NDManager manager) {
        Random random = new Random(seed);
        Map<String, NDArray> tensors = new TreeMap<>();
        double residualStd = STD / Math.sqrt(2.0 * config.layers());
        for (Map.Entry<String, Shape> entry : new TreeMap<>(LlamaConfig.tensorShapes(config)).entrySet()) {
            String name = entry.getKey();
            float[] values = new float[Math.toIntExact(entry.getValue().size())];
            if (name.endsWith("norm.weight")) {
                Arrays.fill(values, 1f);
            } else {
                double std = name.endsWith("o_proj.weight") || name.endsWith("down_proj.weight") ? residualStd : STD;
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) (std * random.nextGaussian());
                }
            }
            tensors.put(name, manager.create(values, entry.getValue()));
        }
        return new Weights(manager, tensors);
    }
}

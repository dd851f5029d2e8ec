package io.editstream.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class AdamWTest {

    @Test
    void minimisesAQuadraticAndZeroesTheGradientAfterEachStep() {
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            NDArray weight = manager.create(new float[] {0f, 0f, 0f, 0f}, new ai.djl.ndarray.types.Shape(2, 2));
            NDArray target = manager.create(new float[] {1f, -2f, 0.5f, 3f}, new ai.djl.ndarray.types.Shape(2, 2));
            try (AdamW optimizer = new AdamW(Map.of("w", weight), 0.9, 0.98, 1e-8, 0.0, 100.0, manager)) {
                for (int step = 0; step < 400; step++) {
                    try (NDManager scope = manager.newSubManager();
                         GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                        NDArray loss = weight.sub(target).square().sum();
                        loss.attach(scope);
                        collector.backward(loss);
                    }
                    optimizer.step(0.05);
                    assertEquals(0f, weight.getGradient().abs().sum().getFloat(), "gradient left over after step " + step);
                }
            }
            assertArrayEquals(target.toFloatArray(), weight.toFloatArray(), 1e-2f);
        }
    }
}

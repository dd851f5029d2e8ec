package io.editstream.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import io.editstream.model.HuggingFaceTextTokenizer;
import io.editstream.model.LanguageModel;
import io.editstream.model.ModelConfig;
import io.editstream.model.Probe;
import io.editstream.model.TextTokenizer;
import io.editstream.model.TokenBatch;
import io.editstream.model.llama.LlamaModel;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The forward pass closes its own arrays before the trainer runs backward. On the CPU, DJL's create() shares a Java
 * direct buffer with libtorch; if the pass handed autograd such an array, backward would read freed memory once the
 * garbage collector ran. The gradient must not depend on what happens to the Java heap in between.
 */
class BackwardAfterForwardTest {

    @Test
    void theGradientDoesNotChangeWhenTheJavaHeapIsCollectedBeforeBackward() throws Exception {
        TestbedShape shape = new TestbedShape(32, 2, 2, 64, 16);
        String json = WordTokenizer.buildJson(List.of("a b c d e f g h"));
        try (TextTokenizer tokenizer = HuggingFaceTextTokenizer.fromJson(json, "test", 1, 2)) {
            ModelConfig config = shape.config(tokenizer.vocabSize());
            float[] quiet = gradient(config, tokenizer, false);
            float[] collected = gradient(config, tokenizer, true);
            assertArrayEquals(quiet, collected);
        }
    }

    private static float[] gradient(ModelConfig config, TextTokenizer tokenizer, boolean collectInBetween) {
        NDManager weightsManager = NDManager.newBaseManager(Device.cpu());
        LanguageModel model = new LlamaModel(config, InitialWeights.create(config, 3, weightsManager), tokenizer);
        NDArray query = model.weights().get("model.layers.0.self_attn.q_proj.weight");
        query.setRequiresGradient(true);
        try (NDManager scope = NDManager.newBaseManager(Device.cpu());
             GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray logits = model.forward(scope, TokenBatch.of(new int[] {1, 4, 5, 6, 7, 8, 9, 10}), Probe.none()).logits();
            NDArray loss = logits.logSoftmax(-1).get("0, :, 5").sum();
            if (collectInBetween) {
                overwriteFreedDirectMemory();
            }
            collector.backward(loss);
            return query.getGradient().toFloatArray();
        } finally {
            weightsManager.close();
        }
    }

    /** Lets the collector free unreachable direct buffers, then fills fresh ones with NaN so reused memory shows. */
    private static void overwriteFreedDirectMemory() {
        List<ByteBuffer> filler = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
            System.gc();
            for (int i = 0; i < 64; i++) {
                ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
                while (buffer.remaining() >= 4) {
                    buffer.putFloat(Float.NaN);
                }
                filler.add(buffer);
            }
        }
        filler.clear();
    }
}

package io.editstream.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A block whose MLP output projection is all zero skips its MLP: the result is the same bits as running it, and the
 * MLP runs again as soon as an edit makes the projection nonzero.
 */
class SilentMlpTest {

    private static final TokenBatch BATCH = TokenBatch.of(new int[] {1, 40, 41, 300, 7, 99}, new int[] {1, 250, 12});

    @Test
    void aZeroProjectionIsSkippedWithoutChangingAnyBitAndRunsAgainOnceEdited() throws Exception {
        try (LanguageModel model = TestModels.randomQwen2(31); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            int dim = model.config().dim();
            int mlpDim = model.config().mlpDim();
            model.setMlpOutputWeight(1, manager.zeros(new Shape(dim, mlpDim)));

            float[] skipped = model.forward(manager, BATCH, Probe.none()).logits().toFloatArray();
            // capturing the block's MLP key makes the pass run that MLP
            float[] run = model.forward(manager, BATCH, Probe.none().captureMlpKeys(1)).logits().toFloatArray();
            assertArrayEquals(run, skipped, "x + 0 is x: skipping the silent MLP changes no bit");

            float[] a = new float[dim];
            float[] b = new float[mlpDim];
            Arrays.fill(a, 0.5f);
            Arrays.fill(b, 0.25f);
            model.addToMlpOutputWeight(1, manager.create(a), manager.create(b));
            float[] edited = model.forward(manager, BATCH, Probe.none()).logits().toFloatArray();
            float[] editedRun = model.forward(manager, BATCH, Probe.none().captureMlpKeys(1)).logits().toFloatArray();
            assertFalse(Arrays.equals(skipped, edited), "the edited MLP contributes again");
            assertArrayEquals(editedRun, edited);
        }
    }
}

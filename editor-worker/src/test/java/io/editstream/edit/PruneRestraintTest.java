package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.junit.jupiter.api.Test;

class PruneRestraintTest {

    private static FloatMatrix random(Random random, int rows, int cols, double scale) {
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * scale);
        }
        return new FloatMatrix(rows, cols, values);
    }

    private static DMatrixRMaj dense(LowRankDelta delta) {
        DMatrixRMaj out = new DMatrixRMaj(delta.a().rows(), delta.b().rows());
        CommonOps_DDRM.multTransB(PruneRestraint.toDouble(delta.a()), PruneRestraint.toDouble(delta.b()), out);
        return out;
    }

    private static double[] descending(DMatrixRMaj m) {
        double[] values = SingularOps_DDRM.singularValues(m);
        Arrays.sort(values);
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[values.length - 1 - i];
        }
        return out;
    }

    @Test
    void restrainedSingularValuesFollowTheLogFormulaAgainstDenseSvd() {
        Random random = new Random(7);
        int rows = 8;
        int cols = 12;
        FloatMatrix original = random(random, rows, cols, 1.0);
        PruneRestraint prune = new PruneRestraint(Math.E);
        prune.registerOriginal(3, original);
        double sigmaMax = descending(PruneRestraint.toDouble(original))[0];
        assertEquals(sigmaMax, prune.originalLargestSingularValue(3), 1e-9);

        DMatrixRMaj published = new DMatrixRMaj(rows, cols);  // W − W0 as the model holds it
        for (int step = 0; step < 4; step++) {
            LowRankDelta edit = new LowRankDelta(3, random(random, rows, 2, 3.0), random(random, cols, 2, 3.0));
            DMatrixRMaj accumulated = new DMatrixRMaj(rows, cols);
            CommonOps_DDRM.add(published, dense(edit), accumulated);
            double[] raw = descending(accumulated);
            assertTrue(raw[0] > sigmaMax, "the test needs perturbations above σmax(W0)");

            LowRankDelta correction = prune.afterEdit(edit);
            DMatrixRMaj restrained = accumulated.copy();
            if (correction != null) {
                CommonOps_DDRM.addEquals(restrained, dense(correction));
            }
            double[] actual = descending(restrained);
            for (int i = 0; i < raw.length; i++) {
                double expected = raw[i] >= sigmaMax ? Math.log(raw[i]) - Math.log(sigmaMax) + sigmaMax : raw[i];
                assertEquals(expected, actual[i], 1e-4 * Math.max(1, raw[0]), "σ" + i + " at step " + step);
            }
            published = restrained;
        }
    }

    @Test
    void smallPerturbationsAreLeftAlone() {
        Random random = new Random(11);
        PruneRestraint prune = new PruneRestraint(Math.E);
        prune.registerOriginal(0, random(random, 6, 9, 1.0));
        LowRankDelta tiny = new LowRankDelta(0, random(random, 6, 1, 1e-3), random(random, 9, 1, 1e-3));
        assertNull(prune.afterEdit(tiny));
    }

    @Test
    void composedDeltasAddTheirProducts() {
        Random random = new Random(3);
        LowRankDelta first = new LowRankDelta(2, random(random, 5, 1, 1), random(random, 7, 1, 1));
        LowRankDelta second = new LowRankDelta(2, random(random, 5, 2, 1), random(random, 7, 2, 1));
        LowRankDelta both = LowRankDelta.compose(List.of(first, second));
        assertEquals(3, both.rank());
        DMatrixRMaj sum = new DMatrixRMaj(5, 7);
        CommonOps_DDRM.add(dense(first), dense(second), sum);
        DMatrixRMaj product = dense(both);
        for (int i = 0; i < sum.data.length; i++) {
            assertEquals(sum.data[i], product.data[i], 1e-5);
        }
    }
}

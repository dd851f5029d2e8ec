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
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;
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

    /**
     * After each of N edits the model holds W0 + U F(Σ) Vᵀ with U Σ Vᵀ the dense SVD of the plain SUM of the edits (F
     * applied once, as the reference does), not F of an already restrained accumulation plus the next edit.
     */
    @Test
    void restraintOfNEditsIsFAppliedOnceToTheirSumAgainstDenseSvd() {
        Random random = new Random(7);
        int rows = 8;
        int cols = 12;
        FloatMatrix original = random(random, rows, cols, 1.0);
        PruneRestraint prune = new PruneRestraint(Math.E);
        prune.registerOriginal(3, original);
        double sigmaMax = descending(PruneRestraint.toDouble(original))[0];
        assertEquals(sigmaMax, prune.originalLargestSingularValue(3), 1e-9);

        DMatrixRMaj published = new DMatrixRMaj(rows, cols);  // W − W0 as the model holds it
        DMatrixRMaj sum = new DMatrixRMaj(rows, cols);        // the edits' plain sum
        boolean restrainedTwice = false;
        for (int step = 0; step < 5; step++) {
            LowRankDelta edit = new LowRankDelta(3, random(random, rows, 2, 3.0), random(random, cols, 2, 3.0));
            CommonOps_DDRM.addEquals(sum, dense(edit));
            CommonOps_DDRM.addEquals(published, dense(edit));
            LowRankDelta correction = prune.afterEdit(edit);
            if (correction != null) {
                CommonOps_DDRM.addEquals(published, dense(correction));
            }
            SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(rows, cols, true, true, true);
            assertTrue(svd.decompose(sum.copy()));
            DMatrixRMaj sigma = svd.getW(null);
            int above = 0;
            for (int i = 0; i < Math.min(rows, cols); i++) {
                double s = sigma.get(i, i);
                if (s >= sigmaMax) {
                    sigma.set(i, i, Math.log(s) - Math.log(sigmaMax) + sigmaMax);
                    above++;
                }
            }
            assertTrue(above > 0, "the test needs perturbations above σmax(W0)");
            restrainedTwice |= step > 0 && above > 0;
            DMatrixRMaj expected = new DMatrixRMaj(rows, cols);
            DMatrixRMaj us = new DMatrixRMaj(rows, cols);
            CommonOps_DDRM.mult(svd.getU(null, false), sigma, us);
            CommonOps_DDRM.multTransB(us, svd.getV(null, false), expected);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    assertEquals(expected.get(i, j), published.get(i, j), 1e-4 * Math.max(1, CommonOps_DDRM.elementMaxAbs(sum)),
                            "entry " + i + ", " + j + " after edit " + step);
                }
            }
        }
        assertTrue(restrainedTwice, "later edits must meet an accumulation that was restrained before");
    }

    /** A restraint given another's totals continues as that one does, bit for bit: what a restored editor relies on. */
    @Test
    void restraintResetToTotalsContinuesBitForBit() {
        Random random = new Random(5);
        FloatMatrix original = random(random, 6, 10, 1.0);
        PruneRestraint first = new PruneRestraint(Math.E);
        PruneRestraint second = new PruneRestraint(Math.E);
        first.registerOriginal(1, original);
        second.registerOriginal(1, original);
        for (int step = 0; step < 3; step++) {
            first.afterEdit(new LowRankDelta(1, random(random, 6, 1, 3.0), random(random, 10, 1, 3.0)));
        }
        second.resetTo(first.totals());
        LowRankDelta next = new LowRankDelta(1, random(random, 6, 2, 3.0), random(random, 10, 2, 3.0));
        LowRankDelta expected = first.afterEdit(next);
        LowRankDelta actual = second.afterEdit(next);
        assertTrue(expected != null, "the test needs a restrained direction");
        assertEquals(expected, actual);
        assertEquals(first.totals(), second.totals());
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

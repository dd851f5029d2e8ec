package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The closed-form updates against the same formulas written densely with EJML. */
class SolvesTest {

    private static final int DIM = 6;
    private static final int MLP = 10;
    private static final int N = 3;
    private static NDManager manager;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    private static DMatrixRMaj random(Random random, int rows, int cols) {
        DMatrixRMaj m = new DMatrixRMaj(rows, cols);
        for (int i = 0; i < m.data.length; i++) {
            m.data[i] = random.nextGaussian();
        }
        return m;
    }

    /** A positive definite second moment from random keys. */
    private static DMatrixRMaj moment(Random random, int samples) {
        DMatrixRMaj keys = random(random, MLP, samples);
        DMatrixRMaj c = new DMatrixRMaj(MLP, MLP);
        CommonOps_DDRM.multTransB(keys, keys, c);
        CommonOps_DDRM.divide(c, samples);
        return c;
    }

    private static NDArray nd(DMatrixRMaj m) {
        return new FloatMatrix(m.numRows, m.numCols, toFloats(m)).toNDArray(manager);
    }

    private static DMatrixRMaj dense(NDArray matrix) {
        return new DMatrixRMaj(Math.toIntExact(matrix.getShape().get(0)), Math.toIntExact(matrix.getShape().get(1)), true,
                matrix.toType(DataType.FLOAT64, false).toDoubleArray());
    }

    private static FloatMatrix fm(DMatrixRMaj m) {
        return FloatMatrix.of(nd(m));
    }

    private static void assertDenseEquals(DMatrixRMaj expected, LowRankDelta actual, double tolerance) {
        float[] product = FloatMatrix.of(actual.dense(manager)).data();
        for (int i = 0; i < product.length; i++) {
            assertEquals(expected.data[i], product[i], tolerance * (1 + Math.abs(expected.data[i])), "entry " + i);
        }
    }

    /** R Kᵀ M⁻¹, densely. */
    private static DMatrixRMaj rKtMinv(DMatrixRMaj r, DMatrixRMaj k, DMatrixRMaj m) {
        DMatrixRMaj rkt = new DMatrixRMaj(DIM, m.numRows);
        CommonOps_DDRM.multTransB(r, k, rkt);
        DMatrixRMaj inverse = m.copy();
        CommonOps_DDRM.invert(inverse);
        DMatrixRMaj out = new DMatrixRMaj(DIM, m.numCols);
        CommonOps_DDRM.mult(rkt, inverse, out);
        return out;
    }

    @Test
    void memitMatchesTheDenseFormula() {
        Random random = new Random(1);
        DMatrixRMaj r = random(random, DIM, N);
        DMatrixRMaj k = random(random, MLP, N);
        DMatrixRMaj c0 = moment(random, 40);
        DMatrixRMaj cp = moment(random, 5);
        double lambda = 3.0;
        DMatrixRMaj kept = c0.copy();
        CommonOps_DDRM.scale(lambda, kept);
        CommonOps_DDRM.addEquals(kept, cp);
        DMatrixRMaj system = kept.copy();
        DMatrixRMaj kkt = new DMatrixRMaj(MLP, MLP);
        CommonOps_DDRM.multTransB(k, k, kkt);
        CommonOps_DDRM.addEquals(system, kkt);

        NDArray rArray = nd(r);
        NDArray kArray = nd(k);
        RunningInverse inverse = RunningInverse.of(nd(kept), manager);
        int arraysBefore = manager.getManagedArrays().size();
        LowRankDelta delta = MemitSolve.solve(4, rArray, kArray, inverse);
        assertEquals(arraysBefore, manager.getManagedArrays().size(), "every intermediate array is closed");
        assertEquals(4, delta.layer());
        assertEquals(N, delta.rank());
        assertDenseEquals(rKtMinv(r, k, system), delta, 1e-4);
    }

    @Test
    void nseOnlyChangesTheSelectedColumnsAndMatchesTheRestrictedFormula() {
        Random random = new Random(2);
        DMatrixRMaj r = random(random, DIM, N);
        DMatrixRMaj k = random(random, MLP, N);
        DMatrixRMaj c0 = moment(random, 40);
        DMatrixRMaj cp = moment(random, 5);
        double lambda = 2.0;
        long[] selected = NeuronSelection.select(fm(k), 0.7);
        assertTrue(selected.length > 0 && selected.length < MLP, "p = 0.7 keeps a proper subset");

        int s = selected.length;
        DMatrixRMaj kS = new DMatrixRMaj(s, N);
        DMatrixRMaj system = new DMatrixRMaj(s, s);
        for (int i = 0; i < s; i++) {
            for (int j = 0; j < N; j++) {
                kS.set(i, j, k.get((int) selected[i], j));
            }
            for (int j = 0; j < s; j++) {
                int a = (int) selected[i];
                int b = (int) selected[j];
                system.set(i, j, lambda * c0.get(a, b) + cp.get(a, b));
            }
        }
        DMatrixRMaj kkt = new DMatrixRMaj(s, s);
        CommonOps_DDRM.multTransB(kS, kS, kkt);
        CommonOps_DDRM.addEquals(system, kkt);
        DMatrixRMaj restricted = rKtMinv(r, kS, system);
        DMatrixRMaj expected = new DMatrixRMaj(DIM, MLP);
        for (int i = 0; i < DIM; i++) {
            for (int j = 0; j < s; j++) {
                expected.set(i, (int) selected[j], restricted.get(i, j));
            }
        }
        DMatrixRMaj kept = c0.copy();
        CommonOps_DDRM.scale(lambda, kept);
        CommonOps_DDRM.addEquals(kept, cp);
        LowRankDelta delta = NseSolve.solve(1, nd(r), nd(k), selected, RunningInverse.withSystem(nd(kept), manager));
        assertDenseEquals(expected, delta, 1e-4);
    }

    @Test
    void alphaEditMatchesTheDenseFormulaAndStaysInTheNullSpace() {
        Random random = new Random(3);
        DMatrixRMaj r = random(random, DIM, N);
        DMatrixRMaj k = random(random, MLP, N);
        // A rank-deficient C0: keys of preserved knowledge span only 6 of 10 directions.
        DMatrixRMaj preserved = random(random, MLP, 6);
        DMatrixRMaj c0 = new DMatrixRMaj(MLP, MLP);
        CommonOps_DDRM.multTransB(preserved, preserved, c0);
        DMatrixRMaj cp = moment(random, 5);
        NDArray projector = NullSpaceProjector.compute(manager, fm(c0), 1e-6, true);
        DMatrixRMaj p = dense(projector);
        DMatrixRMaj pc0 = new DMatrixRMaj(MLP, MLP);
        CommonOps_DDRM.mult(p, c0, pc0);
        assertEquals(0, CommonOps_DDRM.elementMaxAbs(pc0), 1e-3, "P annihilates C0");
        assertEquals(4, CommonOps_DDRM.trace(p), 1e-4, "null space of a rank-6 C0 in 10 dimensions");

        double ridge = 10;
        DMatrixRMaj kkt = new DMatrixRMaj(MLP, MLP);
        CommonOps_DDRM.multTransB(k, k, kkt);
        DMatrixRMaj inner = new DMatrixRMaj(MLP, MLP);
        CommonOps_DDRM.add(cp, kkt, inner);
        DMatrixRMaj system = new DMatrixRMaj(MLP, MLP);
        CommonOps_DDRM.mult(inner, p, system);   // (Cp + K Kᵀ) P + μ I
        for (int i = 0; i < MLP; i++) {
            system.add(i, i, ridge);
        }
        DMatrixRMaj rkt = new DMatrixRMaj(DIM, MLP);
        CommonOps_DDRM.multTransB(r, k, rkt);
        DMatrixRMaj rktp = new DMatrixRMaj(DIM, MLP);
        CommonOps_DDRM.mult(rkt, p, rktp);
        CommonOps_DDRM.invert(system);
        DMatrixRMaj expected = new DMatrixRMaj(DIM, MLP);
        CommonOps_DDRM.mult(rktp, system, expected);

        DMatrixRMaj kept = new DMatrixRMaj(MLP, MLP);
        CommonOps_DDRM.mult(p, cp, kept);   // P Cp + μ I
        for (int i = 0; i < MLP; i++) {
            kept.add(i, i, ridge);
        }
        LowRankDelta delta = AlphaEditSolve.solve(2, nd(r), nd(k), projector,
                RunningInverse.of(nd(kept), manager));
        assertDenseEquals(expected, delta, 1e-4);
        DMatrixRMaj change = PruneRestraint.toDouble(FloatMatrix.of(delta.dense(manager)));
        DMatrixRMaj onPreserved = new DMatrixRMaj(DIM, 6);
        CommonOps_DDRM.mult(change, preserved, onPreserved);
        assertEquals(0, CommonOps_DDRM.elementMaxAbs(onPreserved), 1e-3, "preserved keys see no change");
    }

    /** Wider than one Rayleigh–Ritz step takes whole, with more directions above the threshold than the first block holds. */
    @Test
    void theIteratedProjectorMatchesTheOneFromAFullEigendecomposition() {
        int n = 700;
        Random random = new Random(11);
        var qr = DecompositionFactory_DDRM.qr(n, n);
        qr.decompose(random(random, n, n));
        DMatrixRMaj basis = qr.getQ(null, false);
        DMatrixRMaj scaled = basis.copy();
        int above = 0;
        for (int column = 0; column < n; column++) {
            // 150 eigenvalues from 1 down to just above the threshold, a gap of ten, a tail falling to 1e-15,
            // then exact zeros: a preserved-knowledge spectrum, with the gap that makes P well defined
            double value = column < 150 ? Math.pow(10, -column / 50.0)
                    : column < 600 ? 1e-4 * Math.pow(10, -(column - 150) / 40.0) : 0;
            above += value >= 1e-3 ? 1 : 0;
            for (int row = 0; row < n; row++) {
                scaled.set(row, column, basis.get(row, column) * value);
            }
        }
        DMatrixRMaj c0 = new DMatrixRMaj(n, n);
        CommonOps_DDRM.multTransB(scaled, basis, c0);
        DMatrixRMaj top = CommonOps_DDRM.extract(basis, 0, n, 0, above);
        DMatrixRMaj expected = CommonOps_DDRM.identity(n);
        DMatrixRMaj topTop = new DMatrixRMaj(n, n);
        CommonOps_DDRM.multTransB(top, top, topTop);
        CommonOps_DDRM.subtractEquals(expected, topTop);

        DMatrixRMaj p = dense(NullSpaceProjector.compute(manager, fm(c0), 1e-3, true));
        assertEquals(n - above, CommonOps_DDRM.trace(p), 1e-6, "dimension of the null space");
        DMatrixRMaj difference = new DMatrixRMaj(n, n);
        CommonOps_DDRM.subtract(p, expected, difference);
        // C0 goes in as float32: its eigenvectors move by about that rounding over the gap at the threshold.
        assertEquals(0, CommonOps_DDRM.elementMaxAbs(difference), 1e-3, "P equals I - V V^T of the exact eigenvectors");
        assertEquals(150, above);
    }

    /** Pending keys folded in after every batch, after every few, and not within the 30 batches at all. */
    @ParameterizedTest
    @ValueSource(ints = {1, 5, RunningInverse.DEFAULT_MAX_PENDING})
    void theRunningInverseFollowsItsSystemThroughManyAddedBatches(int maxPending) {
        Random random = new Random(4);
        DMatrixRMaj system = moment(random, 40);
        CommonOps_DDRM.scale(5, system);
        RunningInverse inverse = RunningInverse.create(nd(system), manager, false, maxPending);
        for (int batch = 0; batch < 30; batch++) {
            DMatrixRMaj u = random(random, MLP, 2);
            DMatrixRMaj k = random(random, MLP, 2);
            inverse.add(nd(u), nd(k));
            inverse.commit();
            DMatrixRMaj added = new DMatrixRMaj(MLP, MLP);
            CommonOps_DDRM.multTransB(u, k, added);
            CommonOps_DDRM.addEquals(system, added);
        }
        DMatrixRMaj k = random(random, MLP, N);
        DMatrixRMaj expected = solveWithKeysAdded(system, k);
        try (NDManager scope = manager.newSubManager()) {
            NDArray keys = new FloatMatrix(MLP, N, toFloats(k)).toNDArray(scope);
            assertClose(expected, inverse.solveWithAdded(keys, keys).toDoubleArray(), 1e-4);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, RunningInverse.DEFAULT_MAX_PENDING})
    void symmetricKeysFollowTheSystemAsGeneralOnesDo(int maxPending) {
        Random random = new Random(6);
        DMatrixRMaj system = moment(random, 40);
        RunningInverse inverse = RunningInverse.create(nd(system), manager, true, maxPending);
        for (int batch = 0; batch < 12; batch++) {
            DMatrixRMaj k = random(random, MLP, 1 + batch % 3);
            inverse.addKeys(nd(k));
            inverse.commit();
            DMatrixRMaj added = new DMatrixRMaj(MLP, MLP);
            CommonOps_DDRM.multTransB(k, k, added);
            CommonOps_DDRM.addEquals(system, added);
        }
        DMatrixRMaj k = random(random, MLP, N);
        try (NDManager scope = manager.newSubManager()) {
            NDArray keys = new FloatMatrix(MLP, N, toFloats(k)).toNDArray(scope);
            assertClose(solveWithKeysAdded(system, k), inverse.solveWithAdded(keys, keys).toDoubleArray(), 1e-4);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, RunningInverse.DEFAULT_MAX_PENDING})
    void theRestrictedSolveInvertsThePrincipalBlockAfterAddedKeys(int maxPending) {
        // a small subset is solved from M's own block, a large one through the Schur complement of M⁻¹, all neurons
        // from M⁻¹ itself
        assertRestrictedSolve(new long[] {0, 2, 3}, new long[] {1, 4, 5, 6, 7, 8, 9}, maxPending);
        assertRestrictedSolve(new long[] {0, 2, 3, 5, 6, 7, 8}, new long[] {1, 4, 9}, maxPending);
        assertRestrictedSolve(new long[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, new long[] {}, maxPending);
    }

    private void assertRestrictedSolve(long[] neurons, long[] others, int maxPending) {
        Random random = new Random(5);
        DMatrixRMaj system = moment(random, 40);
        try (NDManager scope = manager.newSubManager()) {
            RunningInverse inverse = RunningInverse.create(nd(system), scope, true, maxPending);
            for (int batch = 0; batch < 5; batch++) {
                DMatrixRMaj added = random(random, MLP, 2);
                if (batch % 2 == 0) {
                    inverse.addKeys(nd(added));
                } else {
                    inverse.add(nd(added), nd(added));
                }
                // the last batch stays uncommitted, as a re-edit pass sees its own keys
                if (batch < 4) {
                    inverse.commit();
                }
                DMatrixRMaj outer = new DMatrixRMaj(MLP, MLP);
                CommonOps_DDRM.multTransB(added, added, outer);
                CommonOps_DDRM.addEquals(system, outer);
            }
            DMatrixRMaj k = random(random, MLP, N);
            int s = neurons.length;
            DMatrixRMaj block = new DMatrixRMaj(s, s);
            DMatrixRMaj kS = new DMatrixRMaj(s, N);
            for (int i = 0; i < s; i++) {
                for (int j = 0; j < s; j++) {
                    block.set(i, j, system.get((int) neurons[i], (int) neurons[j]));
                }
                for (int j = 0; j < N; j++) {
                    kS.set(i, j, k.get((int) neurons[i], j));
                }
            }
            DMatrixRMaj expected = solveWithKeysAdded(block, kS);
            NDArray keysS = new FloatMatrix(s, N, toFloats(kS)).toNDArray(scope);
            assertClose(expected, inverse.solveRestricted(neurons, others, keysS).toDoubleArray(), 1e-4);
        }
    }

    /** Keys rolled back leave no trace: every solve then gives, bit for bit, what an inverse that never saw them gives. */
    @ParameterizedTest
    @ValueSource(ints = {1, 3})
    void aRollbackForgetsTheKeysAddedSinceTheLastCommit(int maxPending) {
        Random random = new Random(8);
        DMatrixRMaj system = moment(random, 40);
        try (NDManager scope = manager.newSubManager()) {
            RunningInverse rolledBack = RunningInverse.create(nd(system), scope, true, maxPending);
            RunningInverse untouched = RunningInverse.create(nd(system), scope, true, maxPending);
            for (int batch = 0; batch < 3; batch++) {
                NDArray keys = nd(random(random, MLP, 2));
                for (RunningInverse inverse : new RunningInverse[] {rolledBack, untouched}) {
                    inverse.addKeys(keys);
                    inverse.commit();
                }
            }
            rolledBack.addKeys(nd(random(random, MLP, 2)));
            rolledBack.add(nd(random(random, MLP, 1)), nd(random(random, MLP, 1)));
            rolledBack.rollback();
            NDArray query = nd(random(random, MLP, N));
            assertSameSolves(untouched, rolledBack, query);
            // what was committed before the rollback is still there to build on
            NDArray more = nd(random(random, MLP, 2));
            for (RunningInverse inverse : new RunningInverse[] {rolledBack, untouched}) {
                inverse.addKeys(more);
                inverse.commit();
            }
            assertSameSolves(untouched, rolledBack, query);
        }
    }

    /**
     * Solves read the inverse and never fold it, so two inverses given the same committed keys agree bit for bit
     * whatever was solved in between: what lets an editor be rebuilt from its keys alone.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 3})
    void solvesLeaveNoTraceSoTheInverseFollowsTheCommittedKeysAlone(int maxPending) {
        Random random = new Random(9);
        DMatrixRMaj system = moment(random, 40);
        long[] large = {0, 2, 3, 5, 6, 7, 8};
        long[] rest = {1, 4, 9};
        try (NDManager scope = manager.newSubManager()) {
            RunningInverse solved = RunningInverse.create(nd(system), scope, true, maxPending);
            RunningInverse replayed = RunningInverse.create(nd(system), scope, true, maxPending);
            for (int batch = 0; batch < 4; batch++) {
                NDArray keys = nd(random(random, MLP, 2));
                NDArray keysS = keys.get(new NDIndex("{}", scope.create(large)));
                solved.solveRestricted(large, rest, keysS);
                solved.addKeys(keys);
                // a re-edit pass solves with the batch's keys pending
                solved.solveRestricted(large, rest, keysS);
                solved.commit();
                replayed.addKeys(keys);
                replayed.commit();
            }
            assertSameSolves(replayed, solved, nd(random(random, MLP, N)));
        }
    }

    private static void assertSameSolves(RunningInverse expected, RunningInverse actual, NDArray keys) {
        assertArrayEquals(expected.solveWithAdded(keys, keys).toDoubleArray(), actual.solveWithAdded(keys, keys).toDoubleArray());
        long[][] subsets = {{0, 2, 3}, {0, 2, 3, 5, 6, 7, 8}};
        long[][] rests = {{1, 4, 5, 6, 7, 8, 9}, {1, 4, 9}};
        for (int i = 0; i < subsets.length; i++) {
            NDArray keysS = keys.get(new NDIndex("{}", keys.getManager().create(subsets[i])));
            assertArrayEquals(expected.solveRestricted(subsets[i], rests[i], keysS).toDoubleArray(),
                    actual.solveRestricted(subsets[i], rests[i], keysS).toDoubleArray());
        }
    }

    /** (M + K Kᵀ)⁻¹ K, densely. */
    private static DMatrixRMaj solveWithKeysAdded(DMatrixRMaj m, DMatrixRMaj k) {
        DMatrixRMaj system = m.copy();
        DMatrixRMaj kkt = new DMatrixRMaj(m.numRows, m.numRows);
        CommonOps_DDRM.multTransB(k, k, kkt);
        CommonOps_DDRM.addEquals(system, kkt);
        CommonOps_DDRM.invert(system);
        DMatrixRMaj out = new DMatrixRMaj(m.numRows, k.numCols);
        CommonOps_DDRM.mult(system, k, out);
        return out;
    }

    private static float[] toFloats(DMatrixRMaj m) {
        float[] values = new float[m.data.length];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) m.data[i];
        }
        return values;
    }

    private static void assertClose(DMatrixRMaj expected, double[] actual, double tolerance) {
        assertEquals(expected.data.length, actual.length);
        for (int i = 0; i < actual.length; i++) {
            assertEquals(expected.data[i], actual[i], tolerance * (1 + Math.abs(expected.data[i])), "entry " + i);
        }
    }

    @Test
    void neuronSelectionTakesTheSmallestSetHoldingTheFraction() {
        FloatMatrix keys = new FloatMatrix(5, 2, new float[] {
            0.25f, 0.0f,
            -4.0f, 1.0f,
            0.5f, 0.5f,
            2.0f, -1.0f,
            0.0f, 0.75f});
        // |activation| mass: 0.25, 5, 1, 3, 0.75 of 10 in total.
        assertArrayEquals(new long[] {1}, NeuronSelection.select(keys, 0.5));
        assertArrayEquals(new long[] {1, 3}, NeuronSelection.select(keys, 0.8));
        assertArrayEquals(new long[] {1, 2, 3}, NeuronSelection.select(keys, 0.85));
        assertArrayEquals(new long[] {0, 1, 2, 3, 4}, NeuronSelection.select(keys, 1.0));
    }
}

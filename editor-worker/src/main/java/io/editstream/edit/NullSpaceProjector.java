package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.decomposition.TriangularSolver_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.CholeskyDecomposition_F64;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * AlphaEdit's projector P = Û Ûᵀ onto the span of the eigenvectors of C0 whose eigenvalues are below a
 * threshold: directions the preserved knowledge's keys (almost) never take, so writing there cannot
 * disturb it.
 *
 * <p>Computed as P = I − V Vᵀ, V the eigenvectors at or above the threshold. Preserved keys occupy few
 * directions (a few hundred of a wide MLP's thousands), so V comes from block subspace iteration with
 * Rayleigh–Ritz: the O(n²·block) products run on C0's device, only block-sized factorizations on the
 * CPU, where a full O(n³) eigendecomposition of a 10,240-wide C0 takes most of an hour on two cores.
 * The block grows until its smallest Ritz value lies well below the threshold, so every eigenvector
 * above it converges at least geometrically, and iteration stops when each of them has a residual
 * ‖C0 v − θ v‖ below a small fraction of the largest eigenvalue.
 */
final class NullSpaceProjector {

    private static final Logger log = LoggerFactory.getLogger(NullSpaceProjector.class);

    /** Residual ‖C0 v − θ v‖ accepted for every kept eigenvector, relative to the largest eigenvalue. */
    private static final double TOLERANCE = 1e-7;
    /** The block's smallest Ritz value must be at most this fraction of the threshold (the convergence ratio). */
    private static final double GAP = 0.25;
    private static final int INITIAL_BLOCK = 128;
    private static final int MAX_ITERATIONS = 400;
    /** Matrices this small are decomposed whole in one Rayleigh–Ritz step. */
    private static final int WHOLE = 256;
    private static final long SEED = 0x5eed_c0L;
    private static final long PROGRESS_NANOS = 30_000_000_000L;

    private NullSpaceProjector() {
    }

    /**
     * @param manager   where P is created (C0's device)
     * @param c0        C0 {@code [mlpDim, mlpDim]}
     * @param threshold eigenvalue cut-off; if {@code relative}, a fraction of C0's largest eigenvalue,
     *                  because a tiny model's key scale has nothing to do with the paper's 0.02
     * @return P {@code [mlpDim, mlpDim]}, float64
     */
    static NDArray compute(NDManager manager, FloatMatrix c0, double threshold, boolean relative) {
        int n = c0.rows();
        try (NDManager scope = manager.newSubManager()) {
            NDArray a = c0.toNDArray(scope).toType(DataType.FLOAT64, false);
            Random random = new Random(SEED);
            int block = n <= WHOLE ? n : Math.min(n, INITIAL_BLOCK);
            NDArray q = orthonormalize(gaussian(scope, random, n, block), random);
            long lastLog = System.nanoTime();
            for (int iteration = 1; iteration <= MAX_ITERATIONS; iteration++) {
                NDArray next;
                // Each iteration's n x block intermediates are freed with it; only the next basis survives.
                try (NDScope step = new NDScope()) {
                    step.suppressNotUsedWarning();
                    RitzPairs ritz = RitzPairs.of(q, a.matMul(q));
                    NDArray vectors = ritz.vectors();
                    NDArray images = ritz.images();
                    double largest = Math.max(ritz.values()[0], 0);
                    double cutoff = relative ? threshold * largest : threshold;
                    int above = 0;
                    while (above < block && ritz.values()[above] >= cutoff) {
                        above++;
                    }
                    double worst = above == 0 ? 0 : worstResidual(images, vectors, ritz.values(), above);
                    boolean blockReachesBelow = block == n || ritz.values()[block - 1] <= GAP * cutoff;
                    if (blockReachesBelow && worst <= TOLERANCE * largest) {
                        log.info("null space of C0: {} of {} directions below eigenvalue {} (largest {}), "
                                        + "{} subspace iterations of a block of {}",
                                n - above, n, cutoff, largest, iteration, block);
                        NDArray kept = vectors.get(new NDIndex(":, :{}", above));
                        NDArray projector = scope.eye(n, n, 0, DataType.FLOAT64).sub(kept.matMul(kept.transpose()));
                        NDScope.unregister(projector);
                        projector.attach(manager);
                        return projector;
                    }
                    if (System.nanoTime() - lastLog > PROGRESS_NANOS) {
                        log.info("eigenvectors of C0 above {}: iteration {}, block {}, {} above, worst residual {} (to reach {})",
                                cutoff, iteration, block, above, worst, TOLERANCE * largest);
                        lastLog = System.nanoTime();
                    }
                    if (!blockReachesBelow) {
                        int grown = Math.min(n, Math.max(block + block / 2, above + above / 4 + 16));
                        log.debug("subspace iteration {}: {} Ritz values above {}, block {} -> {}", iteration, above, cutoff, block, grown);
                        images = images.concat(gaussian(scope, random, n, grown - block).mul(largest), 1);
                        block = grown;
                    }
                    next = orthonormalize(images, random);
                    NDScope.unregister(next);
                }
                q.close();
                q = next;
            }
            throw new IllegalStateException("the eigenvectors of C0 above eigenvalue threshold " + threshold
                    + " did not converge in " + MAX_ITERATIONS + " subspace iterations");
        }
    }

    /** Largest ‖C0 v_i − θ_i v_i‖ over the first {@code count} Ritz pairs. */
    private static double worstResidual(NDArray aq, NDArray q, double[] values, int count) {
        NDIndex first = new NDIndex(":, :{}", count);
        NDArray scaled = q.get(first).mul(q.getManager().create(Arrays.copyOf(values, count)));
        return aq.get(first).sub(scaled).norm(new int[] {0}).max().getDouble();
    }

    /**
     * Orthonormal columns spanning Y's: columns scaled to unit length first (a power step leaves them as far
     * apart in length as C0's eigenvalues), a column C0 annihilated replaced by a random one, then shifted
     * Cholesky QR three times (Fukaya et al.), so the large products stay on Y's device and only the
     * Gram matrix's Cholesky runs here.
     */
    private static NDArray orthonormalize(NDArray y, Random random) {
        long rows = y.getShape().get(0);
        int cols = Math.toIntExact(y.getShape().get(1));
        double[] norms = y.norm(new int[] {0}).toDoubleArray();
        double top = Arrays.stream(norms).max().orElse(0);
        double[] scale = new double[cols];
        double[] refill = new double[cols];
        boolean annihilated = false;
        for (int j = 0; j < cols; j++) {
            if (norms[j] > 1e-10 * top) {
                scale[j] = 1 / norms[j];
            } else {
                refill[j] = 1 / Math.sqrt(rows);
                annihilated = true;
            }
        }
        NDManager manager = y.getManager();
        NDArray q = y.mul(manager.create(scale));
        if (annihilated) {
            q = q.add(gaussian(manager, random, Math.toIntExact(rows), cols).mul(manager.create(refill)));
        }
        for (int round = 0; round < 3; round++) {
            DMatrixRMaj gram = toEjml(q.transpose().matMul(q));
            if (round == 0) {
                double shift = 11 * (rows * cols + (double) cols * (cols + 1)) * Math.ulp(1.0) * CommonOps_DDRM.trace(gram);
                for (int i = 0; i < cols; i++) {
                    gram.add(i, i, shift);
                }
            }
            CholeskyDecomposition_F64<DMatrixRMaj> cholesky = DecompositionFactory_DDRM.chol(cols, true);
            if (!cholesky.decompose(gram)) {
                throw new IllegalStateException("Cholesky of a " + cols + "-column Gram matrix failed");
            }
            DMatrixRMaj lower = cholesky.getT(null);
            TriangularSolver_DDRM.invertLower(lower.data, cols);
            DMatrixRMaj inverseUpper = CommonOps_DDRM.transpose(lower, null);
            q = q.matMul(fromEjml(manager, inverseUpper));
        }
        return q;
    }

    /** Ritz values in descending order, their vectors Q S and images C0 Q S. */
    private record RitzPairs(double[] values, NDArray vectors, NDArray images) {

        static RitzPairs of(NDArray q, NDArray aq) {
            DMatrixRMaj h = toEjml(q.transpose().matMul(aq));
            int b = h.numRows;
            DMatrixRMaj symmetric = new DMatrixRMaj(b, b);
            CommonOps_DDRM.transpose(h, symmetric);
            CommonOps_DDRM.addEquals(symmetric, h);
            CommonOps_DDRM.scale(0.5, symmetric);
            EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(b, true, true);
            if (!eig.decompose(symmetric)) {
                throw new IllegalStateException("eigendecomposition of a " + b + "x" + b + " Rayleigh quotient failed");
            }
            Integer[] order = new Integer[b];
            for (int i = 0; i < b; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (i, j) -> Double.compare(eig.getEigenvalue(j).getReal(), eig.getEigenvalue(i).getReal()));
            double[] values = new double[b];
            DMatrixRMaj rotation = new DMatrixRMaj(b, b);
            for (int column = 0; column < b; column++) {
                values[column] = eig.getEigenvalue(order[column]).getReal();
                DMatrixRMaj vector = eig.getEigenVector(order[column]);
                for (int row = 0; row < b; row++) {
                    rotation.set(row, column, vector.get(row));
                }
            }
            NDArray s = fromEjml(q.getManager(), rotation);
            return new RitzPairs(values, q.matMul(s), aq.matMul(s));
        }
    }

    private static NDArray gaussian(NDManager manager, Random random, int rows, int cols) {
        double[] values = new double[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextGaussian();
        }
        return manager.create(values, new Shape(rows, cols));
    }

    private static DMatrixRMaj toEjml(NDArray matrix) {
        Shape shape = matrix.getShape();
        return new DMatrixRMaj(Math.toIntExact(shape.get(0)), Math.toIntExact(shape.get(1)), true, matrix.toDoubleArray());
    }

    private static NDArray fromEjml(NDManager manager, DMatrixRMaj matrix) {
        return manager.create(matrix.data, new Shape(matrix.numRows, matrix.numCols));
    }
}

package io.editstream.edit;

import java.util.stream.IntStream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * AlphaEdit's projector P = Û Ûᵀ onto the span of the eigenvectors of C0 whose eigenvalues are below a
 * threshold: directions the preserved knowledge's keys (almost) never take, so writing there cannot
 * disturb it. Computed once per layer (an O(mlpDim³) eigendecomposition).
 */
final class NullSpaceProjector {

    private static final Logger log = LoggerFactory.getLogger(NullSpaceProjector.class);

    private NullSpaceProjector() {
    }

    /**
     * @param c0        C0 {@code [mlpDim, mlpDim]}
     * @param threshold eigenvalue cut-off; if {@code relative}, a fraction of C0's largest eigenvalue,
     *                  because a tiny model's key scale has nothing to do with the paper's 0.02
     */
    static FloatMatrix compute(FloatMatrix c0, double threshold, boolean relative) {
        int n = c0.rows();
        DMatrixRMaj matrix = new DMatrixRMaj(n, n);
        for (int i = 0; i < n * n; i++) {
            matrix.data[i] = c0.data()[i];
        }
        EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, true, true);
        if (!eig.decompose(matrix)) {
            throw new IllegalStateException("eigendecomposition of C0 (" + n + "x" + n + ") failed");
        }
        double largest = 0;
        for (int i = 0; i < n; i++) {
            largest = Math.max(largest, eig.getEigenvalue(i).getReal());
        }
        double cutoff = relative ? threshold * largest : threshold;
        int[] below = IntStream.range(0, n)
                .filter(i -> eig.getEigenvalue(i).getReal() < cutoff).toArray();
        int kept = below.length;
        DMatrixRMaj basis = new DMatrixRMaj(n, kept);
        for (int column = 0; column < kept; column++) {
            DMatrixRMaj vector = eig.getEigenVector(below[column]);
            for (int row = 0; row < n; row++) {
                basis.set(row, column, vector.get(row));
            }
        }
        log.info("null space of C0: {} of {} directions below eigenvalue {} (largest {})", kept, n, cutoff, largest);
        DMatrixRMaj projector = new DMatrixRMaj(n, n);
        if (kept > 0) {
            CommonOps_DDRM.multTransB(basis, basis, projector);
        }
        float[] values = new float[n * n];
        for (int i = 0; i < n * n; i++) {
            values[i] = (float) projector.data[i];
        }
        return new FloatMatrix(n, n, values);
    }
}

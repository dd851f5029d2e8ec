package io.editstream.eval;

import io.editstream.tensor.FloatMatrix;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/** σmax / σmin of a weight matrix: how much sequential edits have distorted it (PRUNE's motivation). */
public final class ConditionNumber {

    /**
     * Below this ratio of the Gram matrix's smallest to largest eigenvalue, squaring has cost σmin its accuracy
     * (condition numbers near 1/√ε): the singular values are computed from the matrix itself instead.
     */
    private static final double GRAM_LIMIT = 1e-12;

    private ConditionNumber() {
    }

    /**
     * From the eigenvalues of the Gram matrix of the shorter side, σ² = λ(W Wᵀ): a 128-wide symmetric eigenproblem for
     * the testbed's 128 × 10,240 projections, milliseconds where the SVD of the whole matrix took a second per version.
     */
    public static double of(FloatMatrix weight) {
        boolean wide = weight.rows() <= weight.cols();
        int n = wide ? weight.rows() : weight.cols();
        int length = wide ? weight.cols() : weight.rows();
        double[][] vectors = new double[n][length];
        for (int r = 0; r < weight.rows(); r++) {
            for (int c = 0; c < weight.cols(); c++) {
                double value = weight.get(r, c);
                if (wide) {
                    vectors[r][c] = value;
                } else {
                    vectors[c][r] = value;
                }
            }
        }
        DMatrixRMaj gram = new DMatrixRMaj(n, n);
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double sum = 0;
                double[] a = vectors[i];
                double[] b = vectors[j];
                for (int k = 0; k < length; k++) {
                    sum += a[k] * b[k];
                }
                gram.set(i, j, sum);
                gram.set(j, i, sum);
            }
        }
        EigenDecomposition_F64<DMatrixRMaj> eigen = DecompositionFactory_DDRM.eig(n, false, true);
        if (!eigen.decompose(gram)) {
            return fromSingularValues(weight);
        }
        double max = 0;
        double min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            double lambda = eigen.getEigenvalue(i).getReal();
            max = Math.max(max, lambda);
            min = Math.min(min, lambda);
        }
        if (max == 0 || min <= max * GRAM_LIMIT) {
            return fromSingularValues(weight);
        }
        return Math.sqrt(max / min);
    }

    private static double fromSingularValues(FloatMatrix weight) {
        DMatrixRMaj matrix = new DMatrixRMaj(weight.rows(), weight.cols());
        for (int i = 0; i < weight.data().length; i++) {
            matrix.data[i] = weight.data()[i];
        }
        double[] sigma = SingularOps_DDRM.singularValues(matrix);
        double max = 0;
        double min = Double.POSITIVE_INFINITY;
        for (double s : sigma) {
            max = Math.max(max, s);
            min = Math.min(min, s);
        }
        return min == 0 ? Double.POSITIVE_INFINITY : max / min;
    }
}

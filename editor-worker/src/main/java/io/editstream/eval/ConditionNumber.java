package io.editstream.eval;

import io.editstream.tensor.FloatMatrix;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;

/** σmax / σmin of a weight matrix: how much sequential edits have distorted it (PRUNE's motivation). */
public final class ConditionNumber {

    private ConditionNumber() {
    }

    public static double of(FloatMatrix weight) {
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

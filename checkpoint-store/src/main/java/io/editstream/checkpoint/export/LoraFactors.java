package io.editstream.checkpoint.export;

import io.editstream.tensor.FloatMatrix;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * One tensor's change ΔW [out, in] (the Linear's orientation, whatever the storage) as the top singular triplets of
 * ΔW: {@code ΔW ≈ loraB loraA} with loraB = U_k Σ_k [out, k] and loraA = V_kᵀ [k, in], in float64 until the final
 * rounding to float32.
 *
 * @param totalEnergy Σ σ² over every singular value: ‖ΔW‖_F²
 * @param keptEnergy  Σ σ² over the k kept ones
 */
record LoraFactors(FloatMatrix loraA, FloatMatrix loraB, double totalEnergy, double keptEnergy) {

    int rank() {
        return loraA.rows();
    }

    /** The fraction of the change's Frobenius energy the kept triplets carry (1 for a change that is zero). */
    double energyKept() {
        return totalEnergy == 0 ? 1 : keptEnergy / totalEnergy;
    }

    /**
     * ΔW = left rightᵀ, compacted without ever forming ΔW: with left = Qa Ra and right = Qb Rb (thin QR),
     * ΔW = Qa (Ra Rbᵀ) Qbᵀ, so the SVD of the small core Ra Rbᵀ gives ΔW's.
     *
     * @param left  [out, r]
     * @param right [in, r]
     */
    static LoraFactors ofFactors(FloatMatrix left, FloatMatrix right, int maxRank) {
        DMatrixRMaj[] a = thinQr(toDouble(left));
        DMatrixRMaj[] b = thinQr(toDouble(right));
        DMatrixRMaj core = new DMatrixRMaj(a[1].numRows, b[1].numRows);
        CommonOps_DDRM.multTransB(a[1], b[1], core);
        return truncate(core, a[0], b[0], left.rows(), right.rows(), maxRank, 0);
    }

    /**
     * A dense ΔW [out, in]. Singular values at or below {@code noiseFloor} are dropped whatever the cap: a change
     * read back as the difference of two float32 tensors carries their rounding in every direction.
     */
    static LoraFactors ofDense(FloatMatrix change, int maxRank, double noiseFloor) {
        return truncate(toDouble(change), null, null, change.rows(), change.cols(), maxRank, noiseFloor);
    }

    /**
     * SVD of {@code core} = U Σ Vᵀ and the top k triplets, carried back through the orthonormal bases (null: identity)
     * that map the core's rows and columns to ΔW's.
     */
    private static LoraFactors truncate(DMatrixRMaj core, DMatrixRMaj rowBasis, DMatrixRMaj colBasis, int out, int in, int maxRank,
                                        double noiseFloor) {
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(core.numRows, core.numCols, true, true, true);
        if (!svd.decompose(core)) {
            throw new IllegalStateException("SVD of a " + core.numRows + "x" + core.numCols + " change did not converge");
        }
        DMatrixRMaj u = svd.getU(null, false);
        DMatrixRMaj w = svd.getW(null);
        DMatrixRMaj v = svd.getV(null, false);
        SingularOps_DDRM.descendingOrder(u, false, w, v, false);
        int count = Math.min(w.numRows, w.numCols);
        double largest = count == 0 ? 0 : w.get(0, 0);
        // numpy's matrix_rank tolerance: below it a singular value is float64 round-off of the decomposition
        double tolerance = Math.max(largest * Math.max(out, in) * Math.ulp(1.0), noiseFloor);
        double total = 0;
        double kept = 0;
        int k = 0;
        for (int i = 0; i < count; i++) {
            double sigma = w.get(i, i);
            total += sigma * sigma;
            if (sigma > tolerance && k < maxRank) {
                kept += sigma * sigma;
                k++;
            }
        }
        DMatrixRMaj left = rowBasis == null ? u : times(rowBasis, u);
        DMatrixRMaj right = colBasis == null ? v : times(colBasis, v);
        float[] loraB = new float[out * k];
        float[] loraA = new float[k * in];
        for (int j = 0; j < k; j++) {
            double sigma = w.get(j, j);
            for (int row = 0; row < out; row++) {
                loraB[row * k + j] = (float) (left.get(row, j) * sigma);
            }
            for (int col = 0; col < in; col++) {
                loraA[j * in + col] = (float) right.get(col, j);
            }
        }
        return new LoraFactors(new FloatMatrix(k, in, loraA), new FloatMatrix(out, k, loraB), total, kept);
    }

    /** loraA [r, in], its rows past {@link #rank()} zero. */
    FloatMatrix paddedA(int r) {
        float[] padded = new float[r * loraA.cols()];
        System.arraycopy(loraA.data(), 0, padded, 0, loraA.data().length);
        return new FloatMatrix(r, loraA.cols(), padded);
    }

    /** loraB [out, r], its columns past {@link #rank()} zero. */
    FloatMatrix paddedB(int r) {
        return FloatMatrix.concatColumns(List.of(loraB, FloatMatrix.zeros(loraB.rows(), r - rank())));
    }

    /** [Q, R] of the thin QR of x. */
    private static DMatrixRMaj[] thinQr(DMatrixRMaj x) {
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(x.numRows, x.numCols);
        if (!qr.decompose(x)) {
            throw new IllegalStateException("QR of a " + x.numRows + "x" + x.numCols + " factor failed");
        }
        return new DMatrixRMaj[] {qr.getQ(null, true), qr.getR(null, true)};
    }

    private static DMatrixRMaj times(DMatrixRMaj a, DMatrixRMaj b) {
        DMatrixRMaj product = new DMatrixRMaj(a.numRows, b.numCols);
        CommonOps_DDRM.mult(a, b, product);
        return product;
    }

    private static DMatrixRMaj toDouble(FloatMatrix m) {
        DMatrixRMaj out = new DMatrixRMaj(m.rows(), m.cols());
        for (int i = 0; i < m.data().length; i++) {
            out.data[i] = m.data()[i];
        }
        return out;
    }
}

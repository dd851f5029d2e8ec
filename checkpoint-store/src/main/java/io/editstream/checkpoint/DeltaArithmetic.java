package io.editstream.checkpoint;

import io.editstream.tensor.FloatMatrix;
import java.util.stream.IntStream;

/**
 * The one definition of W + A Bᵀ that every writer, reader, subscriber and replay uses, so that a version means the
 * same bytes everywhere: each element is W with every A[i,r]·B[j,r] added to it in float64, in r order, then rounded to float32
 * once. Java's strict IEEE arithmetic makes that independent of the CPU, the BLAS and the thread count (rows are
 * computed in parallel; no element depends on another).
 */
public final class DeltaArithmetic {

    private DeltaArithmetic() {
    }

    /**
     * @param w          the tensor as stored: [A.rows, B.rows], or [B.rows, A.rows] when {@code transposed}
     * @param transposed the tensor is stored [in, out] (GPT-2's Conv1D): add B Aᵀ
     */
    public static FloatMatrix plusProduct(FloatMatrix w, FloatMatrix a, FloatMatrix b, boolean transposed) {
        FloatMatrix left = transposed ? b : a;
        FloatMatrix right = transposed ? a : b;
        if (a.cols() != b.cols()) {
            throw new IllegalArgumentException("factor ranks differ: " + a.cols() + " and " + b.cols());
        }
        if (w.rows() != left.rows() || w.cols() != right.rows()) {
            throw new IllegalArgumentException("factors A [" + a.rows() + ", " + a.cols() + "] and B [" + b.rows() + ", " + b.cols()
                    + "]" + (transposed ? " (transposed)" : "") + " do not fit a tensor of shape [" + w.rows() + ", " + w.cols() + "]");
        }
        int rank = a.cols();
        int cols = w.cols();
        float[] out = new float[w.data().length];
        float[] base = w.data();
        float[] l = left.data();
        float[] r = right.data();
        IntStream.range(0, w.rows()).parallel().forEach(i -> {
            int rowStart = i * cols;
            int leftStart = i * rank;
            for (int j = 0; j < cols; j++) {
                double sum = base[rowStart + j];
                int rightStart = j * rank;
                for (int k = 0; k < rank; k++) {
                    sum += (double) l[leftStart + k] * r[rightStart + k];
                }
                out[rowStart + j] = (float) sum;
            }
        });
        return new FloatMatrix(w.rows(), cols, out);
    }
}

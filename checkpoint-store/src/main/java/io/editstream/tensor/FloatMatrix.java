package io.editstream.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * A dense float32 matrix in row-major order, held on the Java heap.
 *
 * <p>Edits outlive the NDManager scope that computed them (they go to checkpoints, replay, evaluation),
 * so their factors are plain heap values rather than NDArrays tied to a manager.
 */
public record FloatMatrix(int rows, int cols, float[] data) {

    public FloatMatrix {
        if (rows < 0 || cols < 0 || data.length != (long) rows * cols) {
            throw new IllegalArgumentException(
                    "matrix " + rows + "x" + cols + " needs " + (long) rows * cols + " values, got " + data.length);
        }
    }

    public static FloatMatrix zeros(int rows, int cols) {
        return new FloatMatrix(rows, cols, new float[rows * cols]);
    }

    /** Copies a 2-D array (any float type) off the device into a heap matrix. */
    public static FloatMatrix of(NDArray array) {
        Shape shape = array.getShape();
        if (shape.dimension() != 2) {
            throw new IllegalArgumentException("expected a 2-D array, got shape " + shape);
        }
        float[] values = array.toType(DataType.FLOAT32, false).toFloatArray();
        return new FloatMatrix((int) shape.get(0), (int) shape.get(1), values);
    }

    public NDArray toNDArray(NDManager manager) {
        return manager.create(data, new Shape(rows, cols));
    }

    public float get(int row, int col) {
        return data[row * cols + col];
    }

    /** Places the given matrices side by side; they must have the same number of rows. */
    public static FloatMatrix concatColumns(List<FloatMatrix> parts) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("nothing to concatenate");
        }
        int rows = parts.get(0).rows();
        int cols = 0;
        for (FloatMatrix part : parts) {
            if (part.rows() != rows) {
                throw new IllegalArgumentException("row counts differ: " + rows + " vs " + part.rows());
            }
            cols += part.cols();
        }
        float[] out = new float[rows * cols];
        int offset = 0;
        for (FloatMatrix part : parts) {
            for (int r = 0; r < rows; r++) {
                System.arraycopy(part.data(), r * part.cols(), out, r * cols + offset, part.cols());
            }
            offset += part.cols();
        }
        return new FloatMatrix(rows, cols, out);
    }

    /** The values as float32 in little-endian order, row by row: the bytes a tensor hash covers. */
    public byte[] littleEndianBytes() {
        ByteBuffer bytes = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(data);
        return bytes.array();
    }

    /** sha256 (hex) of {@link #littleEndianBytes()}: a materialised tensor's identity in manifests. */
    public String sha256() {
        return Sha256.of(littleEndianBytes());
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof FloatMatrix m && m.rows == rows && m.cols == cols && Arrays.equals(m.data, data);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * rows + cols) + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "FloatMatrix[" + rows + "x" + cols + "]";
    }
}

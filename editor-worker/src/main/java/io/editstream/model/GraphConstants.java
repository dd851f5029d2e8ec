package io.editstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Constant arrays that take part in an autograd graph.
 *
 * <p>On the CPU, DJL's {@code create(...)} wraps a Java direct buffer that is released once the Java array is closed,
 * and its scalar overloads ({@code x.mul(0.5f)}) close their scalar right after the op. Autograd keeps those tensors
 * for backward, which may then read freed memory: gradients go wrong, and differ from run to run. The copies made
 * here are owned by libtorch and live as long as the graph needs them.
 */
public final class GraphConstants {
    private GraphConstants() {
    }

    public static NDArray scalar(NDManager manager, float value) {
        try (NDArray wrapped = manager.create(value)) {
            return wrapped.duplicate();
        }
    }

    /** Index values as an int64 array, for advanced indexing inside a graph (its backward reads them). */
    public static NDArray indices(NDManager manager, int[] values) {
        long[] wide = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            wide[i] = values[i];
        }
        try (NDArray wrapped = manager.create(wide)) {
            return wrapped.duplicate();
        }
    }

    public static NDArray of(NDManager manager, float[] values, Shape shape) {
        try (NDArray wrapped = manager.create(values, shape)) {
            return wrapped.duplicate();
        }
    }
}

package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * A change ΔW = A Bᵀ to the MLP output projection of one layer, oriented {@code [modelDim, mlpDim]}.
 *
 * <p>Every update of a batch of n edits has rank at most n, so shipping the factors instead of the
 * dense matrix keeps checkpoints and replay small: A is {@code [modelDim, rank]}, B {@code [mlpDim, rank]}.
 */
public record LowRankDelta(int layer, FloatMatrix a, FloatMatrix b) {

    public LowRankDelta {
        if (a.cols() != b.cols()) {
            throw new IllegalArgumentException("factor ranks differ: A has " + a.cols() + ", B has " + b.cols());
        }
    }

    public static LowRankDelta of(int layer, NDArray a, NDArray b) {
        return new LowRankDelta(layer, FloatMatrix.of(a), FloatMatrix.of(b));
    }

    public int rank() {
        return a.cols();
    }

    /** The sum of several deltas of the same layer: concatenating the factors adds the products. */
    public static LowRankDelta compose(List<LowRankDelta> deltas) {
        if (deltas.isEmpty()) {
            throw new IllegalArgumentException("nothing to compose");
        }
        int layer = deltas.get(0).layer();
        for (LowRankDelta delta : deltas) {
            if (delta.layer() != layer) {
                throw new IllegalArgumentException("cannot compose deltas of layers " + layer + " and " + delta.layer());
            }
        }
        return new LowRankDelta(layer,
                FloatMatrix.concatColumns(deltas.stream().map(LowRankDelta::a).toList()),
                FloatMatrix.concatColumns(deltas.stream().map(LowRankDelta::b).toList()));
    }

    /** The dense change A Bᵀ, for tests and for small models only. */
    public NDArray dense(NDManager manager) {
        return a.toNDArray(manager).matMul(b.toNDArray(manager).transpose());
    }
}

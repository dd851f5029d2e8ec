package io.editstream.checkpoint;

import io.editstream.tensor.FloatMatrix;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** A change to one tensor as a writer hands it to {@link ModelHead#append}, before it becomes a blob and a {@link Delta}. */
public sealed interface TensorChange {

    /** The delta kind it is stored as. */
    Delta.Kind kind();

    /** The tensor after the change, from its value at the parent ({@link Delta.Kind#REBASE}: at the base). */
    FloatMatrix applyTo(FloatMatrix start);

    /** The tensors of its blob. */
    SortedMap<String, FloatMatrix> blobTensors();

    /** The factors' rank, 0 for a full tensor. */
    int rank();

    boolean transposed();

    /** ΔW = A Bᵀ on top of the current tensor; A [out, r], B [in, r]; {@code transposed} for a tensor stored [in, out]. */
    static Factored lowRank(FloatMatrix a, FloatMatrix b, boolean transposed) {
        return new Factored(Delta.Kind.LOW_RANK, a, b, transposed);
    }

    /** W = W_base + A Bᵀ: replaces everything since the base. */
    static Factored rebase(FloatMatrix a, FloatMatrix b, boolean transposed) {
        return new Factored(Delta.Kind.REBASE, a, b, transposed);
    }

    /** A change held as factors: {@link Delta.Kind#LOW_RANK} or {@link Delta.Kind#REBASE}. */
    record Factored(Delta.Kind kind, FloatMatrix a, FloatMatrix b, boolean transposed) implements TensorChange {
        public Factored {
            if (kind == Delta.Kind.SNAPSHOT) {
                throw new IllegalArgumentException("a full tensor is not factored");
            }
            if (a.cols() != b.cols() || a.cols() < 1) {
                throw new IllegalArgumentException("factors of ranks " + a.cols() + " and " + b.cols() + "; they must be equal and at least 1");
            }
        }

        @Override
        public FloatMatrix applyTo(FloatMatrix start) {
            return DeltaArithmetic.plusProduct(start, a, b, transposed);
        }

        @Override
        public SortedMap<String, FloatMatrix> blobTensors() {
            return new TreeMap<>(Map.of("a", a, "b", b));
        }

        @Override
        public int rank() {
            return a.cols();
        }
    }

    /** The full tensor as stored. */
    record Full(FloatMatrix weight) implements TensorChange {
        @Override
        public Delta.Kind kind() {
            return Delta.Kind.SNAPSHOT;
        }

        @Override
        public FloatMatrix applyTo(FloatMatrix start) {
            if (start.rows() != weight.rows() || start.cols() != weight.cols()) {
                throw new IllegalArgumentException("a full tensor [" + weight.rows() + ", " + weight.cols() + "] for a tensor of shape ["
                        + start.rows() + ", " + start.cols() + "]");
            }
            return weight;
        }

        @Override
        public SortedMap<String, FloatMatrix> blobTensors() {
            return new TreeMap<>(Map.of(CheckpointStore.WEIGHT, weight));
        }

        @Override
        public int rank() {
            return 0;
        }

        @Override
        public boolean transposed() {
            return false;
        }
    }
}

package io.editstream.checkpoint;

import io.editstream.tensor.Sha256;

/**
 * How one tensor changed in a version, as stored in a manifest: a reference to the blob holding the change.
 *
 * @param kind       what the blob holds and what it is relative to
 * @param blob       sha256 of the safetensors blob: tensors {@code a} [out, r] and {@code b} [in, r] for the factored kinds,
 *                   {@code weight} for {@link Kind#SNAPSHOT}
 * @param rank       r, the factors' column count (0 for a snapshot)
 * @param transposed true when the stored tensor is [in, out] (GPT-2's Conv1D), so the change to it is B Aᵀ
 */
public record Delta(Kind kind, String blob, int rank, boolean transposed) {

    public enum Kind {
        /** ΔW = A Bᵀ relative to the parent version. */
        LOW_RANK,
        /** W = W_base + A Bᵀ: the whole change relative to the base (consolidation, compaction). */
        REBASE,
        /** The full tensor. */
        SNAPSHOT
    }

    public Delta {
        if (kind == null) {
            throw new IllegalArgumentException("a delta needs a kind");
        }
        if (!Sha256.isHex(blob)) {
            throw new IllegalArgumentException("a delta's blob is a sha256, got '" + blob + "'");
        }
        if (kind == Kind.SNAPSHOT ? rank != 0 || transposed : rank < 1) {
            throw new IllegalArgumentException(kind + " delta with rank " + rank + (transposed ? ", transposed" : ""));
        }
    }

    /** True when the blob holds factors A, B rather than the full tensor. */
    public boolean factored() {
        return kind != Kind.SNAPSHOT;
    }
}

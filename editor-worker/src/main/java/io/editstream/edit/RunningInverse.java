package io.editstream.edit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * M⁻¹ for one edit layer's system M (λ C0 + Cp for MEMIT and NSE, P Cp + μ I for AlphaEdit), kept current as each
 * edit adds its keys to M by the Woodbury identity. Inverting M afresh for each edit costs O(d³) for d MLP neurons:
 * seconds per edit at d = 3,072, hours over a thousand sequential edits.
 *
 * <p>Added keys are not folded into the d × d inverse one edit at a time: rewriting that matrix is a pass over hundreds
 * of megabytes at a few thousand neurons, whatever the rank of the change. They wait as a pending low-rank term,
 * M = M_f + U Kᵀ with M⁻¹ v = w − X (I + Kᵀ X)⁻¹ Kᵀ w, w = M_f⁻¹ v and X = M_f⁻¹ U, and are folded in together once
 * {@code maxPending} columns have gathered. A solve costs one product with M_f⁻¹ and O(d p) for p pending columns.
 *
 * <p>Held in float64 (with M itself beside it where NSE needs its blocks): the system is badly conditioned when keys are
 * nearly parallel, and the updates accumulate. At Llama3-8B's 14,336 neurons that is 1.6 GB per edit layer and per
 * matrix, in place of the float32 C0 and Cp they replace.
 */
final class RunningInverse {

    /** Pending columns folded into M_f⁻¹ at once: a fold costs about as much as a single rank-one update. */
    static final int DEFAULT_MAX_PENDING = 64;

    private final NDManager owner;
    private final int maxPending;
    /** M_f⁻¹, the inverse with every folded key in. */
    private final NDArray inverse;
    /**
     * M_f itself, float64, or null: only NSE's solve on a small neuron subset reads M (it inverts M's principal block),
     * and every d × d matrix kept current costs a pass over it per fold.
     */
    private final NDArray system;
    /** The pending term U Kᵀ, X = M_f⁻¹ U and (I + Kᵀ X)⁻¹; all null when nothing is pending. */
    private NDArray pendingU;
    private NDArray pendingK;
    private NDArray pendingX;
    private NDArray pendingCore;
    /** Every pending term so far was K Kᵀ: the fold reads Kᵀ M_f⁻¹ as Xᵀ, as M_f is symmetric. */
    private boolean pendingSymmetric = true;

    private RunningInverse(NDManager owner, int maxPending, NDArray inverse, NDArray system) {
        this.owner = owner;
        this.maxPending = maxPending;
        this.inverse = inverse;
        this.system = system;
    }

    /** Inverts {@code system} {@code [d, d]} once; the inverse lives (and is closed) with {@code owner}. */
    static RunningInverse of(NDArray system, NDManager owner) {
        return create(system, owner, false, DEFAULT_MAX_PENDING);
    }

    /** As {@link #of}, and keeps M beside M⁻¹ for {@link #solveRestricted} on subsets smaller than the rest. */
    static RunningInverse withSystem(NDArray system, NDManager owner) {
        return create(system, owner, true, DEFAULT_MAX_PENDING);
    }

    /** As {@link #of} or {@link #withSystem}, folding pending keys in once {@code maxPending} columns gathered. */
    static RunningInverse create(NDArray system, NDManager owner, boolean keepSystem, int maxPending) {
        if (maxPending < 1) {
            throw new IllegalArgumentException("at least one pending column, got " + maxPending);
        }
        NDManager own = owner.newSubManager();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray copy = system.toType(DataType.FLOAT64, true);
            NDArray inverse = rowMajor(copy.inverse());
            NDScope.unregister(inverse);
            inverse.attach(own);
            if (keepSystem) {
                NDScope.unregister(copy);
                copy.attach(own);
            }
            return new RunningInverse(own, maxPending, inverse, keepSystem ? copy : null);
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
    }

    /**
     * The same matrix laid out row by row. torch writes an inverse column by column, and its product with keys laid out
     * the same way (the transpose of a [requests, d] array) ran 13 times slower than with either row-major: 4 s in place
     * of 0.3 s for 6,144 × 6,144 by 10 keys, seconds per edit at batch 10. Flattening cannot view such a matrix, so it
     * copies.
     */
    private static NDArray rowMajor(NDArray matrix) {
        return matrix.reshape(-1).reshape(matrix.getShape());
    }

    /** (M + U Kᵀ)⁻¹ U {@code [d, n]}, float64, in {@code u}'s manager; M itself is unchanged. */
    NDArray solveWithAdded(NDArray u, NDArray k) {
        return solveWithAdded64(u.toType(DataType.FLOAT64, false), k.toType(DataType.FLOAT64, false));
    }

    private NDArray solveWithAdded64(NDArray u64, NDArray k64) {
        NDArray x = applyInverse(u64);
        // push-through: (M + U Kᵀ)⁻¹ U = M⁻¹U (I + Kᵀ M⁻¹ U)⁻¹
        return x.matMul(identityPlus(k64.transpose().matMul(x)).inverse());
    }

    /** M⁻¹ v with the pending term: w − X (I + Kᵀ X)⁻¹ Kᵀ w, w = M_f⁻¹ v. */
    private NDArray applyInverse(NDArray v64) {
        NDArray w = inverse.matMul(v64);
        if (pendingU == null) {
            return w;
        }
        return w.sub(pendingX.matMul(pendingCore.matMul(pendingK.transpose().matMul(w))));
    }

    /** M += U Kᵀ. */
    void add(NDArray u, NDArray k) {
        append(u, k, false);
    }

    /** M += K Kᵀ (M stays symmetric, as λ C0 + Cp is). */
    void addKeys(NDArray k) {
        append(k, k, true);
    }

    private void append(NDArray u, NDArray k, boolean symmetric) {
        NDArray[] replaced = {pendingU, pendingK, pendingX, pendingCore};
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray u64 = u.toType(DataType.FLOAT64, true);
            NDArray k64 = k.toType(DataType.FLOAT64, true);
            NDArray x = inverse.matMul(u64);
            NDArray allU = pendingU == null ? u64 : pendingU.concat(u64, 1);
            NDArray allK = pendingK == null ? k64 : pendingK.concat(k64, 1);
            NDArray allX = pendingX == null ? x : pendingX.concat(x, 1);
            NDArray core = identityPlus(allK.transpose().matMul(allX)).inverse();
            NDScope.unregister(allU, allK, allX, core);
            for (NDArray kept : new NDArray[] {allU, allK, allX, core}) {
                kept.attach(owner);
            }
            pendingU = allU;
            pendingK = allK;
            pendingX = allX;
            pendingCore = core;
            pendingSymmetric &= symmetric;
        }
        for (NDArray old : replaced) {
            if (old != null) {
                old.close();
            }
        }
        if (pendingU.getShape().get(1) >= maxPending) {
            fold();
        }
    }

    /** M_f⁻¹ −= X (I + Kᵀ X)⁻¹ Kᵀ M_f⁻¹ and M_f += U Kᵀ: nothing pending afterwards. */
    private void fold() {
        if (pendingU == null) {
            return;
        }
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray right = pendingSymmetric ? pendingX.transpose() : pendingK.transpose().matMul(inverse);
            inverse.subi(pendingX.matMul(pendingCore).matMul(right));
            if (system != null) {
                system.addi(pendingU.matMul(pendingK.transpose()));
            }
        }
        for (NDArray old : new NDArray[] {pendingU, pendingK, pendingX, pendingCore}) {
            old.close();
        }
        pendingU = null;
        pendingK = null;
        pendingX = null;
        pendingCore = null;
        pendingSymmetric = true;
    }

    /**
     * (M_SS + K_S K_Sᵀ)⁻¹ K_S for the principal block of M on the neurons S, float64 {@code [|S|, n]}. Whichever of
     * S and the other neurons T is smaller is inverted: M_SS + K_S K_Sᵀ itself when S is, else M_SS⁻¹ comes from M⁻¹
     * by the Schur complement, M_SS⁻¹ = (M⁻¹)_SS − (M⁻¹)_ST ((M⁻¹)_TT)⁻¹ (M⁻¹)_TS, and only a |T| × |T| block is
     * inverted. (Inversion is cubic: at 3,072 neurons, solving a small S through T cost seconds per edit.) With T
     * empty this is {@link #solveWithAdded}.
     *
     * @param neurons S, ascending
     * @param others  T, ascending: every neuron not in S
     * @param keysS   K_S {@code [|S|, n]}
     */
    NDArray solveRestricted(long[] neurons, long[] others, NDArray keysS) {
        NDArray k64 = keysS.toType(DataType.FLOAT64, false);
        if (others.length == 0) {
            return solveWithAdded64(k64, k64);
        }
        NDManager manager = keysS.getManager();
        NDArray s = manager.create(neurons);
        NDIndex rowsS = new NDIndex("{}", s);
        NDIndex columnsS = new NDIndex(":, {}", s);
        if (neurons.length <= others.length) {
            if (system == null) {
                throw new IllegalStateException("a neuron subset smaller than the rest needs M itself: create the inverse withSystem");
            }
            NDArray block = system.get(rowsS).get(columnsS);
            if (pendingU != null) {
                block = block.add(pendingU.get(rowsS).matMul(pendingK.get(rowsS).transpose()));
            }
            return block.add(k64.matMul(k64.transpose())).inverse().matMul(k64);
        }
        // the blocks of M⁻¹ itself are read: fold what is pending first
        fold();
        NDArray inverseRowsS = inverse.get(rowsS);
        NDArray y = inverseRowsS.get(columnsS).matMul(k64);
        NDArray t = manager.create(others);
        NDArray inverseRowsT = inverse.get(new NDIndex("{}", t));
        NDArray tt = inverseRowsT.get(new NDIndex(":, {}", t));
        NDArray ts = inverseRowsT.get(columnsS);
        y = y.sub(inverseRowsS.get(new NDIndex(":, {}", t)).matMul(tt.inverse().matMul(ts.matMul(k64))));
        return y.matMul(identityPlus(k64.transpose().matMul(y)).inverse());
    }

    private static NDArray identityPlus(NDArray square) {
        int n = (int) square.getShape().get(0);
        return square.add(square.getManager().eye(n, n, 0, DataType.FLOAT64));
    }
}

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
 * <p>Additions count once {@link #commit committed}, and until then {@link #rollback} forgets them: an editor adds a
 * batch's keys before it knows the batch goes through (NSE re-edits solve with them), and a rejected batch must leave
 * no trace. Only a commit folds; solves never change the representation. So the inverse, rounding included, is a
 * function of the committed additions alone, which is what lets an editor be rebuilt from its keys
 * ({@link Editor#restore}).
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
    /** The pending term, committed additions and later ones; null when nothing is pending. */
    private Pending pending;
    /** The pending term as of the last commit (the same object when nothing was added since), or null. */
    private Pending committed;

    /**
     * The pending term U Kᵀ with X = M_f⁻¹ U and core = (I + Kᵀ X)⁻¹, owned by the inverse's manager.
     *
     * @param symmetric every term so far was K Kᵀ: the fold reads Kᵀ M_f⁻¹ as Xᵀ, as M_f is symmetric
     */
    private record Pending(NDArray u, NDArray k, NDArray x, NDArray core, boolean symmetric) {

        long columns() {
            return u.getShape().get(1);
        }

        void close() {
            for (NDArray array : new NDArray[] {u, k, x, core}) {
                array.close();
            }
        }
    }

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

    /**
     * As {@link #of}, and keeps M beside M⁻¹ for {@link #solveRestricted} on subsets smaller than the rest. Every commit
     * folds: a restricted solve on a subset larger than the rest reads M⁻¹'s blocks, which with keys pending costs a fold
     * into a temporary matrix at each solve, where one fold per commit serves every solve after it.
     */
    static RunningInverse withSystem(NDArray system, NDManager owner) {
        return create(system, owner, true, 1);
    }

    /** As {@link #of} or {@link #withSystem}, folding pending keys in at the commit that gathers {@code maxPending} columns. */
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
     * A running inverse that starts from M⁻¹ computed before ({@link EditorSetup}), row-major float64 {@code [d, d]}, and
     * owned from now on by a sub-manager of {@code owner}; with M itself (float64) when {@link #solveRestricted} needs it
     * (as {@link #withSystem}), or null (as {@link #of}).
     */
    static RunningInverse fromInverse(NDArray inverse, NDArray system, NDManager owner) {
        NDManager own = owner.newSubManager();
        inverse.attach(own);
        if (system != null) {
            system.attach(own);
        }
        return new RunningInverse(own, system != null ? 1 : DEFAULT_MAX_PENDING, inverse, system);
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
        if (pending == null) {
            return w;
        }
        return w.sub(pending.x().matMul(pending.core().matMul(pending.k().transpose().matMul(w))));
    }

    /** M += U Kᵀ, until {@link #rollback}. */
    void add(NDArray u, NDArray k) {
        append(u, k, false);
    }

    /** M += K Kᵀ (M stays symmetric, as λ C0 + Cp is), until {@link #rollback}. */
    void addKeys(NDArray k) {
        append(k, k, true);
    }

    private void append(NDArray u, NDArray k, boolean symmetric) {
        Pending next;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray u64 = u.toType(DataType.FLOAT64, true);
            NDArray k64 = k.toType(DataType.FLOAT64, true);
            NDArray x = inverse.matMul(u64);
            NDArray allU = pending == null ? u64 : pending.u().concat(u64, 1);
            NDArray allK = pending == null ? k64 : pending.k().concat(k64, 1);
            NDArray allX = pending == null ? x : pending.x().concat(x, 1);
            NDArray core = identityPlus(allK.transpose().matMul(allX)).inverse();
            NDScope.unregister(allU, allK, allX, core);
            for (NDArray kept : new NDArray[] {allU, allK, allX, core}) {
                kept.attach(owner);
            }
            next = new Pending(allU, allK, allX, core, symmetric && (pending == null || pending.symmetric()));
        }
        // the committed term stays whole until the next commit: a rollback returns to it
        if (pending != null && pending != committed) {
            pending.close();
        }
        pending = next;
    }

    /** The additions so far stay; folds them in once {@code maxPending} columns are pending. */
    void commit() {
        if (pending == committed) {
            return;
        }
        if (committed != null) {
            committed.close();
        }
        committed = pending;
        if (pending.columns() >= maxPending) {
            fold();
        }
    }

    /** Forgets the additions since the last {@link #commit}. */
    void rollback() {
        if (pending != committed) {
            pending.close();
            pending = committed;
        }
    }

    /** M_f⁻¹ −= X (I + Kᵀ X)⁻¹ Kᵀ M_f⁻¹ and M_f += U Kᵀ: nothing pending afterwards. Only a commit folds. */
    private void fold() {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            inverse.subi(pendingCorrection());
            if (system != null) {
                system.addi(pending.u().matMul(pending.k().transpose()));
            }
        }
        pending.close();
        pending = null;
        committed = null;
    }

    /** X (I + Kᵀ X)⁻¹ Kᵀ M_f⁻¹, what the pending term takes off M_f⁻¹. */
    private NDArray pendingCorrection() {
        NDArray right = pending.symmetric() ? pending.x().transpose() : pending.k().transpose().matMul(inverse);
        return pending.x().matMul(pending.core()).matMul(right);
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
            if (pending != null) {
                block = block.add(pending.u().get(rowsS).matMul(pending.k().get(rowsS).transpose()));
            }
            return block.add(k64.matMul(k64.transpose())).inverse().matMul(k64);
        }
        // The blocks of M⁻¹ itself are read: with keys pending, from a folded copy, the same values a fold would leave
        // (−c + M_f⁻¹ is M_f⁻¹ − c exactly), written over the correction so that no second d × d matrix is made.
        NDArray current = pending == null ? inverse : pendingCorrection().negi().addi(inverse);
        NDArray inverseRowsS = current.get(rowsS);
        NDArray y = inverseRowsS.get(columnsS).matMul(k64);
        NDArray t = manager.create(others);
        NDArray inverseRowsT = current.get(new NDIndex("{}", t));
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

package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * PRUNE's restraint on the accumulated perturbation ΔW_acc = W − W0 of each edited matrix.
 *
 * <p>Sequential edits pile up large singular values in ΔW_acc, which blows up the condition number of W
 * and with it the model's general abilities. Each singular value σ ≥ σmax(W0) is replaced by
 * log_α σ − log_α σmax(W0) + σmax(W0); smaller ones (where the edits live) are kept.
 *
 * <p>As in the reference ({@code bi_editor_loadw.py}), F is applied once to the RAW accumulation, the plain sum of the
 * edits: the restraint keeps that sum, U Σ Vᵀ, and the model holds W0 + U F(Σ) Vᵀ = W0 + raw + excess, the excess
 * U (F(Σ) − Σ) Vᵀ being over the restrained directions only. After an edit e the model holds
 * W0 + raw + e + excess_before, so the correction is excess_after − excess_before: its rank is the restrained
 * directions' before and after, never F applied to an already restrained matrix.
 *
 * <p>ΔW_acc is held as low-rank factors, so its SVD comes from QR of the factors and an SVD of the small
 * core Ra Rbᵀ; the full matrix is never decomposed. Its rank is at most the smaller side of the matrix. State per
 * layer ({@link Totals}), float32 factors, so a restraint given the same totals continues bit for bit; not thread-safe.
 */
public final class PruneRestraint {

    /**
     * One layer's state: the raw accumulation (factors U Σ and V) and the excess (U (F(Σ) − Σ) and V over the
     * restrained directions), or null when no direction is restrained.
     */
    public record Totals(LowRankDelta raw, LowRankDelta excess) {
        public Totals {
            if (excess != null && excess.layer() != raw.layer()) {
                throw new IllegalArgumentException("raw accumulation of layer " + raw.layer() + ", excess of layer " + excess.layer());
            }
        }

        public int layer() {
            return raw.layer();
        }
    }

    private final double logBase;
    private final Map<Integer, Double> originalLargestSingularValue = new HashMap<>();
    private final Map<Integer, Totals> totals = new HashMap<>();

    /** @param alpha base of the logarithm (e in the paper) */
    public PruneRestraint(double alpha) {
        if (!(alpha > 1)) {
            throw new IllegalArgumentException("PRUNE log base must be > 1, got " + alpha);
        }
        this.logBase = Math.log(alpha);
    }

    /** Records σmax(W0) of a layer before its first edit. */
    public void registerOriginal(int layer, FloatMatrix originalWeight) {
        originalLargestSingularValue.put(layer, largestSingularValue(originalWeight));
    }

    public double originalLargestSingularValue(int layer) {
        Double value = originalLargestSingularValue.get(layer);
        if (value == null) {
            throw new IllegalStateException("layer " + layer + " was not registered with its original weight");
        }
        return value;
    }

    /** Every layer's state as it stands, to go back to with {@link #resetTo} or to continue from elsewhere. */
    public Map<Integer, Totals> totals() {
        return Map.copyOf(totals);
    }

    /**
     * Back to what {@link #totals} returned (here, or from a restraint with the same σmax(W0) that applied the same
     * edits): the edits given since then are forgotten.
     */
    public void resetTo(Map<Integer, Totals> earlier) {
        earlier.forEach((layer, state) -> {
            if (state.layer() != layer) {
                throw new IllegalArgumentException("PRUNE totals of layer " + state.layer() + " listed under layer " + layer);
            }
            originalLargestSingularValue(layer);
        });
        totals.clear();
        totals.putAll(earlier);
    }

    /** F(σ): identity below σmax(W0), logarithmic above. */
    public double restrain(double sigma, double originalLargest) {
        if (sigma < originalLargest) {
            return sigma;
        }
        return (Math.log(sigma) - Math.log(originalLargest)) / logBase + originalLargest;
    }

    /**
     * Takes the edit just added to the layer (the model now holds W0 + F(raw accumulation before) + edit) and returns
     * the correction that brings it to W0 + F(raw accumulation + edit), or {@code null} when no singular value
     * reaches σmax(W0) before or after.
     */
    public LowRankDelta afterEdit(LowRankDelta edit) {
        int layer = edit.layer();
        double largest = originalLargestSingularValue(layer);
        Totals previous = totals.get(layer);
        LowRankDelta accumulated = previous == null ? edit : LowRankDelta.compose(List.of(previous.raw(), edit));

        Decomposed svd = decompose(accumulated);
        double[] sigma = svd.sigma();
        int[] kept = svd.kept();
        DMatrixRMaj u = svd.u();
        DMatrixRMaj v = svd.v();
        int[] restrained = IntStream.of(kept).filter(i -> sigma[i] >= largest).toArray();

        LowRankDelta raw = new LowRankDelta(layer, scaledColumns(u, kept, sigma, largest, false), scaledColumns(v, kept, null, largest, false));
        LowRankDelta excess = restrained.length == 0 ? null : new LowRankDelta(layer,
                scaledColumns(u, restrained, sigma, largest, true), scaledColumns(v, restrained, null, largest, false));
        totals.put(layer, new Totals(raw, excess));
        LowRankDelta excessBefore = previous == null ? null : previous.excess();
        if (excessBefore == null) {
            return excess;
        }
        LowRankDelta undo = new LowRankDelta(layer, negated(excessBefore.a()), excessBefore.b());
        if (excess == null) {
            return undo;
        }
        LowRankDelta correction = LowRankDelta.compose(List.of(excess, undo));
        // every restrained direction turns a little with each edit, so the two excesses span twice their directions;
        // past the matrix's smaller side that many factors hold less than they cost: keep the correction's true rank
        if (correction.a().cols() <= Math.min(correction.a().rows(), correction.b().rows())) {
            return correction;
        }
        Decomposed compact = decompose(correction);
        return new LowRankDelta(layer, scaledColumns(compact.u(), compact.kept(), compact.sigma(), largest, false),
                scaledColumns(compact.v(), compact.kept(), null, largest, false));
    }

    /**
     * A Bᵀ = U diag(σ) Vᵀ of a low-rank delta from QR of its factors and an SVD of the small core Ra Rbᵀ; {@code kept}
     * lists the directions with energy (σ above 1e-9 of the largest), so at most the matrix's smaller side.
     */
    private record Decomposed(DMatrixRMaj u, DMatrixRMaj v, double[] sigma, int[] kept) {
    }

    private static Decomposed decompose(LowRankDelta delta) {
        DMatrixRMaj qa = new DMatrixRMaj(1, 1);
        DMatrixRMaj ra = new DMatrixRMaj(1, 1);
        DMatrixRMaj qb = new DMatrixRMaj(1, 1);
        DMatrixRMaj rb = new DMatrixRMaj(1, 1);
        compactQr(toDouble(delta.a()), qa, ra);
        compactQr(toDouble(delta.b()), qb, rb);
        DMatrixRMaj core = new DMatrixRMaj(ra.numRows, rb.numRows);
        CommonOps_DDRM.multTransB(ra, rb, core);

        SingularValueDecomposition_F64<DMatrixRMaj> svd =
                DecompositionFactory_DDRM.svd(core.numRows, core.numCols, true, true, true);
        if (!svd.decompose(core)) {
            throw new IllegalStateException("SVD of the " + core.numRows + "x" + core.numCols + " PRUNE core failed");
        }
        DMatrixRMaj coreU = svd.getU(null, false);
        DMatrixRMaj coreV = svd.getV(null, false);
        double[] sigma = svd.getSingularValues();
        DMatrixRMaj u = new DMatrixRMaj(qa.numRows, coreU.numCols);
        DMatrixRMaj v = new DMatrixRMaj(qb.numRows, coreV.numCols);
        CommonOps_DDRM.mult(qa, coreU, u);
        CommonOps_DDRM.mult(qb, coreV, v);

        int count = svd.numberOfSingularValues();
        double top = 0;
        for (int i = 0; i < count; i++) {
            top = Math.max(top, sigma[i]);
        }
        // Directions with no energy carry no edit: dropping them keeps the stored rank ≤ min(dims).
        double negligible = top * 1e-9;
        return new Decomposed(u, v, sigma, IntStream.range(0, count).filter(i -> sigma[i] > negligible).toArray());
    }

    private static FloatMatrix negated(FloatMatrix m) {
        float[] out = m.data().clone();
        for (int i = 0; i < out.length; i++) {
            out[i] = -out[i];
        }
        return new FloatMatrix(m.rows(), m.cols(), out);
    }

    /** Columns {@code which} of m, each multiplied by σ (or F(σ) − σ for the excess) when σ is given. */
    private FloatMatrix scaledColumns(DMatrixRMaj m, int[] which, double[] sigma, double largest, boolean excess) {
        float[] out = new float[m.numRows * which.length];
        for (int c = 0; c < which.length; c++) {
            double scale = 1;
            if (sigma != null) {
                double s = sigma[which[c]];
                scale = excess ? restrain(s, largest) - s : s;
            }
            for (int r = 0; r < m.numRows; r++) {
                out[r * which.length + c] = (float) (m.get(r, which[c]) * scale);
            }
        }
        return new FloatMatrix(m.numRows, which.length, out);
    }

    private static void compactQr(DMatrixRMaj x, DMatrixRMaj q, DMatrixRMaj r) {
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(x.numRows, x.numCols);
        if (!qr.decompose(x.copy())) {
            throw new IllegalStateException("QR of a " + x.numRows + "x" + x.numCols + " factor failed");
        }
        q.setTo(qr.getQ(null, true));
        r.setTo(qr.getR(null, true));
    }

    static DMatrixRMaj toDouble(FloatMatrix m) {
        DMatrixRMaj out = new DMatrixRMaj(m.rows(), m.cols());
        for (int i = 0; i < m.data().length; i++) {
            out.data[i] = m.data()[i];
        }
        return out;
    }

    static double largestSingularValue(FloatMatrix weight) {
        double[] values = SingularOps_DDRM.singularValues(toDouble(weight));
        double largest = 0;
        for (double value : values) {
            largest = Math.max(largest, value);
        }
        return largest;
    }
}

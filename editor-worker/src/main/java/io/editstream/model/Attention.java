package io.editstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Scaled dot-product attention with a causal and padding mask, shared by every family. */
public final class Attention {

    private Attention() {
    }

    /**
     * Which key positions of a right-padded batch hold real tokens: {@code [batch][maxLength]}.
     */
    public static boolean[][] realKeys(TokenBatch batch) {
        boolean[][] real = new boolean[batch.size()][batch.maxLength()];
        for (int row = 0; row < batch.size(); row++) {
            for (int i = 0; i < batch.length(row); i++) {
                real[row][i] = true;
            }
        }
        return real;
    }

    /**
     * Additive mask {@code [batch, 1, queries, keys]}: 0 where query {@code firstQuery + i} may read key {@code j}
     * (an earlier or the same position, holding a real token, and within the last {@code window} positions when
     * {@code window > 0}), -inf elsewhere. A padded query still reads the real tokens before it, so no row of the
     * softmax is empty; with a window it reads at least itself, real or not.
     */
    public static NDArray mask(NDManager manager, boolean[][] realKeys, int firstQuery, int queries, int window) {
        int rows = realKeys.length;
        int keys = realKeys[0].length;
        float[] mask = new float[rows * queries * keys];
        for (int row = 0; row < rows; row++) {
            for (int i = 0; i < queries; i++) {
                int base = (row * queries + i) * keys;
                for (int j = 0; j < keys; j++) {
                    int query = firstQuery + i;
                    boolean inWindow = window == 0 || j > query - window;
                    boolean visible = j <= query && inWindow && (realKeys[row][j] || window > 0 && j == query);
                    mask[base + j] = visible ? 0f : Float.NEGATIVE_INFINITY;
                }
            }
        }
        return manager.create(mask, new Shape(rows, 1, queries, keys));
    }

    /** Splits {@code [batch, seq, heads * headDim]} into heads: {@code [batch, heads, seq, headDim]}. */
    public static NDArray splitHeads(NDArray x, int heads) {
        long[] shape = x.getShape().getShape();
        return x.reshape(shape[0], shape[1], heads, shape[2] / heads).transpose(0, 2, 1, 3);
    }

    /**
     * Attention of every query head over its key/value head (grouped-query attention when there are fewer
     * key/value heads: query head {@code h} reads key/value head {@code h / (heads / kvHeads)}).
     *
     * @param q    {@code [batch, heads, queries, headDim]}
     * @param k    {@code [batch, kvHeads, keys, headDim]}
     * @param v    {@code [batch, kvHeads, keys, headDim]}
     * @param mask {@code [batch, 1, queries, keys]} from {@link #mask}
     * @return {@code [batch, queries, heads * headDim]}
     */
    public static NDArray attend(NDArray q, NDArray k, NDArray v, NDArray mask) {
        Shape shape = q.getShape();
        long heads = shape.get(1);
        long groups = heads / k.getShape().get(1);
        if (groups > 1) {
            k = k.repeat(1, groups);
            v = v.repeat(1, groups);
        }
        NDArray scale = GraphConstants.scalar(q.getManager(), (float) Math.sqrt(shape.get(3)));
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).div(scale).add(mask);
        NDArray mixed = scores.softmax(-1).matMul(v);
        return mixed.transpose(0, 2, 1, 3).reshape(shape.get(0), shape.get(2), heads * shape.get(3));
    }
}

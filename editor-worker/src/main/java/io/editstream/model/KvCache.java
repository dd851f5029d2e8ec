package io.editstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Keys and values of the positions already run, so decoding a token costs one position instead of the whole prefix.
 *
 * <p>All rows advance together: a chunk of {@code T} tokens occupies positions {@code length()..length()+T-1} in every
 * row, and the padding of a shorter row stays masked for every later query. Arrays are preallocated to the capacity
 * and written in place, so decoding does not grow memory.
 */
public final class KvCache implements AutoCloseable {

    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private final boolean[][] realKeys;
    private int length;

    /**
     * @param parent    manager the cache's arrays live under (a sub-manager, closed by {@link #close()})
     * @param config    the model the cache belongs to
     * @param batchSize rows decoded together
     * @param capacity  most positions the cache holds
     */
    public KvCache(NDManager parent, ModelConfig config, int batchSize, int capacity) {
        if (capacity <= 0 || capacity > config.maxSeqLen()) {
            throw new IllegalArgumentException("cache capacity " + capacity + " outside 1.." + config.maxSeqLen());
        }
        this.manager = parent.newSubManager();
        this.keys = new NDArray[config.layers()];
        this.values = new NDArray[config.layers()];
        Shape shape = new Shape(batchSize, config.kvHeads(), capacity, config.headDim());
        for (int layer = 0; layer < config.layers(); layer++) {
            keys[layer] = manager.zeros(shape, DataType.FLOAT32);
            values[layer] = manager.zeros(shape, DataType.FLOAT32);
        }
        this.realKeys = new boolean[batchSize][capacity];
    }

    /** Positions filled so far. */
    public int length() {
        return length;
    }

    /** Most positions the cache holds. */
    public int capacity() {
        return realKeys[0].length;
    }

    /** Rows decoded together. */
    public int batchSize() {
        return realKeys.length;
    }

    /**
     * Which key positions hold real tokens once {@code chunk} is appended: {@code [batch][length() + chunk length]}.
     */
    public boolean[][] realKeysWith(TokenBatch chunk) {
        if (chunk.size() != batchSize()) {
            throw new IllegalArgumentException("chunk of " + chunk.size() + " rows for a cache of " + batchSize());
        }
        int end = length + chunk.maxLength();
        if (end > capacity()) {
            throw new IllegalArgumentException("cache full: " + length + " + " + chunk.maxLength() + " positions exceed capacity " + capacity());
        }
        boolean[][] real = new boolean[batchSize()][end];
        for (int row = 0; row < batchSize(); row++) {
            System.arraycopy(realKeys[row], 0, real[row], 0, length);
            for (int i = 0; i < chunk.length(row); i++) {
                real[row][length + i] = true;
            }
        }
        return real;
    }

    /**
     * Writes the chunk's keys and values of one layer after the filled positions and returns the keys and values of
     * every position up to the end of the chunk.
     *
     * @param scope manager the returned views are attached to
     * @param k     {@code [batch, kvHeads, chunk, headDim]}
     * @param v     {@code [batch, kvHeads, chunk, headDim]}
     * @return {@code {keys, values}}, each {@code [batch, kvHeads, length() + chunk, headDim]}
     */
    public NDArray[] store(NDManager scope, int layer, NDArray k, NDArray v) {
        int end = length + (int) k.getShape().get(2);
        NDIndex chunk = new NDIndex(":, :, {}:{}", length, end);
        keys[layer].set(chunk, k);
        values[layer].set(chunk, v);
        NDIndex prefix = new NDIndex(":, :, :{}", end);
        NDArray allKeys = keys[layer].get(prefix);
        NDArray allValues = values[layer].get(prefix);
        allKeys.attach(scope);
        allValues.attach(scope);
        return new NDArray[] {allKeys, allValues};
    }

    /** Marks the chunk as stored in every layer: the next chunk goes after it. */
    public void commit(TokenBatch chunk) {
        boolean[][] real = realKeysWith(chunk);
        for (int row = 0; row < batchSize(); row++) {
            System.arraycopy(real[row], 0, realKeys[row], 0, real[row].length);
        }
        length += chunk.maxLength();
    }

    @Override
    public void close() {
        manager.close();
    }
}

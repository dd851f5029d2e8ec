package io.editstream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

import java.util.SortedMap;

/**
 * What every family shares around its forward pass: the weights, the tokenizer and the editable MLP output
 * projections. A family supplies {@link #run} and says how its MLP output projection is stored.
 */
public abstract class TransformerModel implements LanguageModel {

    protected final ModelConfig config;
    protected final Weights weights;
    private final TextTokenizer tokenizer;

    protected TransformerModel(ModelConfig config, Weights weights, TextTokenizer tokenizer) {
        this.config = config;
        this.weights = weights;
        this.tokenizer = tokenizer;
    }

    /**
     * The forward pass: {@code batch} continues {@code cache} when one is given (probe must then be
     * {@link Probe#none()}), or starts at position 0.
     */
    protected abstract ForwardResult run(NDManager scope, TokenBatch batch, Probe probe, KvCache cache);

    @Override
    public abstract String mlpOutputName(int layer);

    @Override
    public abstract boolean mlpOutputStoredTransposed();

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    @Override
    public Device device() {
        return weights.manager().getDevice();
    }

    @Override
    public SortedMap<String, NDArray> weights() {
        return weights.all();
    }

    @Override
    public ForwardResult forward(NDManager scope, TokenBatch batch, Probe probe) {
        checkContext(batch.maxLength());
        return run(scope, batch, probe, null);
    }

    @Override
    public NDArray forward(NDManager scope, TokenBatch batch, KvCache cache) {
        checkContext(cache.length() + batch.maxLength());
        return run(scope, batch, Probe.none(), cache).logits();
    }

    @Override
    public NDArray mlpOutputWeight(NDManager scope, int layer) {
        NDArray stored = weights.get(mlpOutputName(checkLayer(layer)));
        NDArray copy = stored.duplicate();
        copy.attach(scope);
        return mlpOutputStoredTransposed() ? copy.transpose() : copy;
    }

    @Override
    public void addToMlpOutputWeight(int layer, NDArray a, NDArray b) {
        NDArray stored = weights.get(mlpOutputName(checkLayer(layer)));
        try (NDManager update = weights.manager().newSubManager()) {
            NDArray left = asColumns(a, config.dim(), "a", update);
            NDArray right = asColumns(b, config.mlpDim(), "b", update);
            if (left.getShape().get(1) != right.getShape().get(1)) {
                throw new IllegalArgumentException("rank of a " + left.getShape() + " and b " + right.getShape() + " differ");
            }
            NDArray delta = mlpOutputStoredTransposed() ? right.matMul(left.transpose()) : left.matMul(right.transpose());
            stored.addi(delta);
        }
    }

    @Override
    public void setMlpOutputWeight(int layer, NDArray weight) {
        NDArray stored = weights.get(mlpOutputName(checkLayer(layer)));
        Shape expected = new Shape(config.dim(), config.mlpDim());
        if (!weight.getShape().equals(expected)) {
            throw new IllegalArgumentException("MLP output weight of layer " + layer + " must be " + expected + ", got " + weight.getShape());
        }
        try (NDManager update = weights.manager().newSubManager()) {
            NDArray value = weight.toDevice(device(), true);
            value.attach(update);
            stored.set(new NDIndex(":"), mlpOutputStoredTransposed() ? value.transpose() : value);
        }
    }

    @Override
    public String weightsSha256() {
        return weights.sha256();
    }

    @Override
    public void close() {
        tokenizer.close();
        weights.close();
    }

    private void checkContext(int positions) {
        if (positions > config.maxSeqLen()) {
            throw new IllegalArgumentException(positions + " positions exceed the model's context of " + config.maxSeqLen());
        }
    }

    /** A layer whose MLP output projection can be read and edited. */
    private int checkLayer(int layer) {
        if (layer < 0 || layer >= config.layers()) {
            throw new IllegalArgumentException("layer " + layer + " outside 0.." + (config.layers() - 1));
        }
        if (!config.hasMlp(layer)) {
            throw new IllegalArgumentException("layer " + layer + " has no MLP to edit");
        }
        return layer;
    }

    /** {@code [n]} or {@code [n, r]} as a float32 {@code [n, r]} copy on the model's device, owned by {@code update}. */
    private NDArray asColumns(NDArray factor, int n, String name, NDManager update) {
        Shape shape = factor.getShape();
        if (shape.dimension() < 1 || shape.dimension() > 2 || shape.get(0) != n) {
            throw new IllegalArgumentException("factor " + name + " must be [" + n + "] or [" + n + ", rank], got " + shape);
        }
        NDArray copy = factor.toDevice(device(), true);
        copy.attach(update);
        return copy.reshape(n, shape.dimension() == 1 ? 1 : shape.get(1));
    }
}

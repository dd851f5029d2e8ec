package io.editstream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.SortedMap;

/**
 * A causal transformer language model whose MLP output projections can be read and edited.
 *
 * <p>This is the seam between the runtime (model/) and the editing algorithms (edit/): the editors see
 * only this interface, never a model family's classes. Weights are owned by the model's own manager;
 * every array a call returns is attached to the manager the caller passes in, so the caller's scope
 * closes it.
 */
public interface LanguageModel extends AutoCloseable {

    /** Shapes and family of the model. */
    ModelConfig config();

    /** The tokenizer the model was trained with. */
    TextTokenizer tokenizer();

    /**
     * Runs a padded batch through the model.
     *
     * @param scope   manager that owns every array created by this call (logits and captures)
     * @param batch   token ids, right-padded, with the real length of each row
     * @param probe   what to capture or inject on the way (use {@link Probe#none()} for a plain pass)
     * @return logits {@code [batch, seq, vocab]} in float32 (or {@code [pairs, vocab]} at the probe's logit
     *         positions), plus whatever the probe asked to capture
     */
    ForwardResult forward(NDManager scope, TokenBatch batch, Probe probe);

    /**
     * Runs {@code batch} as the continuation of what {@code cache} holds (positions {@code cache.length()} on) and
     * appends its keys and values to the cache: incremental decoding. Gives the same logits as a full forward pass
     * over the whole prefix.
     *
     * @return logits {@code [batch, chunk, vocab]} of the new positions only
     */
    NDArray forward(NDManager scope, TokenBatch batch, KvCache cache);

    /** An empty cache for {@link #forward(NDManager, TokenBatch, KvCache)}; its arrays live under {@code manager}. */
    default KvCache newKvCache(NDManager manager, int batchSize, int capacity) {
        return new KvCache(manager, config(), batchSize, capacity);
    }

    /** Device the weights live on; inputs and outputs of {@link #forward} are on it too. */
    Device device();

    /**
     * Every weight by its HuggingFace name, sorted by name (the canonical order). The arrays are the model's own:
     * read them, never close or modify them (edit through {@link #addToMlpOutputWeight}).
     */
    SortedMap<String, NDArray> weights();

    /**
     * The MLP output projection of a layer, oriented {@code [modelDim, mlpDim]} so that the MLP output is
     * {@code W k} for the MLP key {@code k} (Llama {@code down_proj}; GPT-2 {@code c_proj} transposed).
     * The returned array is a copy attached to {@code scope}.
     */
    NDArray mlpOutputWeight(NDManager scope, int layer);

    /** The HuggingFace name of the layer's MLP output projection weight (what edits change). */
    String mlpOutputName(int layer);

    /** Whether that weight is stored {@code [mlpDim, dim]} (GPT-2's Conv1D) rather than {@code [dim, mlpDim]}. */
    boolean mlpOutputStoredTransposed();

    /** Adds {@code a bᵀ} to the layer's MLP output projection (same orientation as {@link #mlpOutputWeight}). */
    void addToMlpOutputWeight(int layer, NDArray a, NDArray b);

    /** Replaces the layer's MLP output projection (same orientation as {@link #mlpOutputWeight}). */
    void setMlpOutputWeight(int layer, NDArray weight);

    /**
     * sha256 (hex) of all weights in their canonical order (sorted by name, each tensor's float32 values in
     * little-endian byte order): identifies a base model and a version.
     */
    String weightsSha256();

    @Override
    void close();
}

package io.editstream.model;

import java.util.List;
import java.util.TreeSet;

/**
 * Shapes and hyperparameters of a causal transformer.
 *
 * @param family          which forward pass runs it
 * @param architecture    the HuggingFace architecture name written to {@code config.json} (e.g. {@code LlamaForCausalLM})
 * @param vocabSize       number of token ids
 * @param dim             width of the residual stream
 * @param mlpDim          width of the MLP hidden layer (the MLP key)
 * @param layers          number of transformer blocks
 * @param heads           number of query heads
 * @param kvHeads         number of key/value heads (equal to {@code heads} without grouped-query attention)
 * @param maxSeqLen       longest sequence the positions cover
 * @param normEps         epsilon of RMSNorm / LayerNorm
 * @param ropeTheta       rotary base (Llama family only; 0 for GPT-2)
 * @param tiedEmbeddings  the output head is the token embedding
 * @param attentionBias   the q/k/v projections have biases (Qwen2; always true for GPT-2)
 * @param bosId           beginning-of-sequence token id, -1 if none
 * @param eosId           end-of-sequence token id, -1 if none
 * @param slidingWindow   keys a query of a sliding-window block reads (itself and the {@code slidingWindow - 1} before
 *                        it); 0 when no block has a window
 * @param slidingLayers   the blocks whose attention is limited to that window (HuggingFace {@code layer_types}
 *                        {@code sliding_attention}); the others read every earlier position
 * @param layersWithoutMlp the blocks that have no MLP (attention only; a per-block {@code intermediate_size} of 0),
 *                        whose MLP weights are not stored; every other block's MLP is {@code mlpDim} wide
 */
public record ModelConfig(
        ModelFamily family,
        String architecture,
        int vocabSize,
        int dim,
        int mlpDim,
        int layers,
        int heads,
        int kvHeads,
        int maxSeqLen,
        float normEps,
        float ropeTheta,
        boolean tiedEmbeddings,
        boolean attentionBias,
        int bosId,
        int eosId,
        int slidingWindow,
        List<Integer> slidingLayers,
        List<Integer> layersWithoutMlp) {

    /** A model whose every block attends to all earlier positions. */
    public ModelConfig(ModelFamily family, String architecture, int vocabSize, int dim, int mlpDim, int layers, int heads,
                       int kvHeads, int maxSeqLen, float normEps, float ropeTheta, boolean tiedEmbeddings,
                       boolean attentionBias, int bosId, int eosId) {
        this(family, architecture, vocabSize, dim, mlpDim, layers, heads, kvHeads, maxSeqLen, normEps, ropeTheta,
                tiedEmbeddings, attentionBias, bosId, eosId, 0, List.of(), List.of());
    }

    public ModelConfig {
        if (vocabSize <= 0 || dim <= 0 || mlpDim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || maxSeqLen <= 0) {
            throw new IllegalArgumentException("model dimensions must be positive: " + summary(vocabSize, dim, mlpDim, layers, heads, kvHeads, maxSeqLen));
        }
        if (dim % heads != 0) {
            throw new IllegalArgumentException("dim " + dim + " is not a multiple of heads " + heads);
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads " + heads + " is not a multiple of kvHeads " + kvHeads);
        }
        slidingLayers = List.copyOf(new TreeSet<>(slidingLayers));
        if (slidingWindow < 0 || (slidingWindow == 0) != slidingLayers.isEmpty()) {
            throw new IllegalArgumentException("a sliding window (" + slidingWindow + ") needs sliding layers and sliding layers " + slidingLayers + " a positive window");
        }
        for (int layer : slidingLayers) {
            if (layer < 0 || layer >= layers) {
                throw new IllegalArgumentException("sliding layer " + layer + " outside 0.." + (layers - 1));
            }
        }
        layersWithoutMlp = List.copyOf(new TreeSet<>(layersWithoutMlp));
        for (int layer : layersWithoutMlp) {
            if (layer < 0 || layer >= layers) {
                throw new IllegalArgumentException("layer without MLP " + layer + " outside 0.." + (layers - 1));
            }
        }
        if (layersWithoutMlp.size() == layers) {
            throw new IllegalArgumentException("every block lacks an MLP: " + layersWithoutMlp);
        }
    }

    /** Whether block {@code layer} has an MLP (see {@code layersWithoutMlp}). */
    public boolean hasMlp(int layer) {
        return !layersWithoutMlp.contains(layer);
    }

    /** How many positions (itself included) a query of block {@code layer} reads; 0 for all earlier positions. */
    public int attentionWindow(int layer) {
        return slidingLayers.contains(layer) ? slidingWindow : 0;
    }

    /** Width of one attention head. */
    public int headDim() {
        return dim / heads;
    }

    /** Width of the key and value projections. */
    public int kvDim() {
        return kvHeads * headDim();
    }

    @Override
    public String toString() {
        String windows = slidingLayers.isEmpty() ? "" : " window=" + slidingWindow + " on layers " + slidingLayers;
        String noMlp = layersWithoutMlp.isEmpty() ? "" : " no MLP in layers " + layersWithoutMlp;
        return architecture + "[" + summary(vocabSize, dim, mlpDim, layers, heads, kvHeads, maxSeqLen) + windows + noMlp + "]";
    }

    private static String summary(int vocabSize, int dim, int mlpDim, int layers, int heads, int kvHeads, int maxSeqLen) {
        return "vocab=" + vocabSize + " dim=" + dim + " mlpDim=" + mlpDim + " layers=" + layers
                + " heads=" + heads + " kvHeads=" + kvHeads + " maxSeqLen=" + maxSeqLen;
    }
}

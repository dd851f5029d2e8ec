package io.editstream.model;

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
        int eosId) {

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
        return architecture + "[" + summary(vocabSize, dim, mlpDim, layers, heads, kvHeads, maxSeqLen) + "]";
    }

    private static String summary(int vocabSize, int dim, int mlpDim, int layers, int heads, int kvHeads, int maxSeqLen) {
        return "vocab=" + vocabSize + " dim=" + dim + " mlpDim=" + mlpDim + " layers=" + layers
                + " heads=" + heads + " kvHeads=" + kvHeads + " maxSeqLen=" + maxSeqLen;
    }
}

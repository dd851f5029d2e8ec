package io.editstream.train;

import io.editstream.model.ModelConfig;
import io.editstream.model.ModelFamily;

/**
 * The architecture of a testbed model: a plain Llama (RMSNorm, RoPE, SwiGLU) with the head tied to the embedding,
 * sized so training fits a laptop CPU and the weights fit the repository.
 */
public record TestbedShape(int dim, int layers, int heads, int mlpDim, int maxSeqLen) {

    public TestbedShape {
        if (dim <= 0 || layers <= 0 || heads <= 0 || mlpDim <= 0 || maxSeqLen <= 0 || dim % heads != 0) {
            throw new IllegalArgumentException("invalid testbed shape " + this);
        }
    }

    /** The model config for a vocabulary of {@code vocabSize} built by {@link WordTokenizer}. */
    public ModelConfig config(int vocabSize) {
        return new ModelConfig(ModelFamily.LLAMA, "LlamaForCausalLM", vocabSize, dim, mlpDim, layers, heads, heads,
                maxSeqLen, 1e-5f, 10000f, true, false,
                WordTokenizer.specialId(WordTokenizer.BOS), WordTokenizer.specialId(WordTokenizer.EOS));
    }
}

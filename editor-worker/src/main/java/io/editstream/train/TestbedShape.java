package io.editstream.train;

import io.editstream.model.ModelConfig;
import io.editstream.model.ModelFamily;

import java.util.List;
import java.util.stream.IntStream;

/**
 * The architecture of a testbed model: a Llama (RMSNorm, RoPE, SwiGLU) with the head tied to the embedding, sized so
 * training fits a laptop CPU and the weights fit the repository.
 *
 * <p>The first {@code lookupLayers} blocks are where facts are stored: they hold the MLPs and, with a
 * {@code window}, attend only to the last {@code window} positions, so a later token cannot read a subject named
 * further back until the blocks above. Those blocks attend to every position and have no MLP at all (a per-block
 * {@code intermediate_size} of 0 in {@code config.json}: nothing stored, nothing run). A token after the subject
 * therefore cannot look the fact up in its own MLPs; it has to read
 * it from the subject's residual stream — where knowledge-editing methods write (ROME's and MEMIT's finding about
 * large models, made a property of the testbed).
 *
 * @param lookupLayers blocks with an MLP (and the window), from the bottom; {@code layers} for a plain Llama
 * @param window       positions a lookup block's query reads (itself included); 0 for all earlier positions
 */
public record TestbedShape(int dim, int layers, int heads, int mlpDim, int maxSeqLen, int lookupLayers, int window) {

    public TestbedShape {
        if (dim <= 0 || layers <= 0 || heads <= 0 || mlpDim <= 0 || maxSeqLen <= 0 || dim % heads != 0
                || lookupLayers <= 0 || lookupLayers > layers || window < 0 || window > maxSeqLen) {
            throw new IllegalArgumentException("invalid testbed shape " + this);
        }
    }

    /** A plain Llama: every block has an MLP and attends to every earlier position. */
    public TestbedShape(int dim, int layers, int heads, int mlpDim, int maxSeqLen) {
        this(dim, layers, heads, mlpDim, maxSeqLen, layers, 0);
    }

    /** The model config for a vocabulary of {@code vocabSize} built by {@link WordTokenizer}. */
    public ModelConfig config(int vocabSize) {
        List<Integer> sliding = window == 0 ? List.of() : IntStream.range(0, lookupLayers).boxed().toList();
        List<Integer> withoutMlp = IntStream.range(lookupLayers, layers).boxed().toList();
        return new ModelConfig(ModelFamily.LLAMA, "LlamaForCausalLM", vocabSize, dim, mlpDim, layers, heads, heads,
                maxSeqLen, 1e-5f, 10000f, true, false,
                WordTokenizer.specialId(WordTokenizer.BOS), WordTokenizer.specialId(WordTokenizer.EOS), window, sliding, withoutMlp);
    }
}

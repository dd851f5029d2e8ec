package io.editstream.model.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import io.editstream.model.Activations;
import io.editstream.model.Attention;
import io.editstream.model.ForwardResult;
import io.editstream.model.KvCache;
import io.editstream.model.Linear;
import io.editstream.model.ModelConfig;
import io.editstream.model.Normalization;
import io.editstream.model.Probe;
import io.editstream.model.ProbeHooks;
import io.editstream.model.RotaryEmbedding;
import io.editstream.model.TextTokenizer;
import io.editstream.model.TokenBatch;
import io.editstream.model.TransformerModel;
import io.editstream.model.Weights;

/**
 * Llama / Mistral / Qwen2: pre-RMSNorm blocks, rotary grouped-query attention (over a sliding window in the blocks
 * the config names), SwiGLU MLP.
 */
public final class LlamaModel extends TransformerModel {

    /** One block's weights; the four MLP ones are null in a block without an MLP. */
    private record Layer(NDArray attentionNorm, NDArray wq, NDArray bq, NDArray wk, NDArray bk, NDArray wv, NDArray bv,
                         NDArray wo, NDArray mlpNorm, NDArray gate, NDArray up, NDArray down) {
    }

    private final NDArray embedding;
    private final Layer[] layers;
    private final NDArray finalNorm;
    private final NDArray head;
    private final RotaryEmbedding rope;

    /** Takes ownership of the weights (named as {@link LlamaConfig#tensorShapes}) and the tokenizer. */
    public LlamaModel(ModelConfig config, Weights weights, TextTokenizer tokenizer) {
        super(config, weights, tokenizer);
        this.embedding = weights.get(LlamaConfig.EMBEDDING);
        this.finalNorm = weights.get(LlamaConfig.FINAL_NORM);
        this.head = config.tiedEmbeddings() ? embedding : weights.get(LlamaConfig.HEAD);
        this.rope = new RotaryEmbedding(config.headDim(), config.ropeTheta());
        this.layers = new Layer[config.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = LlamaConfig.layerPrefix(l);
            boolean mlp = config.hasMlp(l);
            layers[l] = new Layer(
                    weights.get(p + "input_layernorm.weight"),
                    weights.get(p + "self_attn.q_proj.weight"), weights.optional(p + "self_attn.q_proj.bias"),
                    weights.get(p + "self_attn.k_proj.weight"), weights.optional(p + "self_attn.k_proj.bias"),
                    weights.get(p + "self_attn.v_proj.weight"), weights.optional(p + "self_attn.v_proj.bias"),
                    weights.get(p + "self_attn.o_proj.weight"),
                    mlp ? weights.get(p + "post_attention_layernorm.weight") : null,
                    mlp ? weights.get(p + "mlp.gate_proj.weight") : null,
                    mlp ? weights.get(p + "mlp.up_proj.weight") : null,
                    mlp ? weights.get(p + "mlp.down_proj.weight") : null);
        }
    }

    @Override
    protected ForwardResult run(NDManager scope, TokenBatch batch, Probe probe, KvCache cache) {
        int seq = batch.maxLength();
        int start = cache == null ? 0 : cache.length();
        float eps = config.normEps();
        try (NDManager pass = scope.newSubManager(device())) {
            ProbeHooks hooks = new ProbeHooks(pass, probe, config, batch);
            boolean[][] realKeys = cache == null ? Attention.realKeys(batch) : cache.realKeysWith(batch);
            // each mask only when some block reads through it (a Mistral slides every block)
            NDArray fullMask = config.slidingLayers().size() == config.layers() ? null : Attention.mask(pass, realKeys, start, seq, 0);
            NDArray slidingMask = config.slidingWindow() == 0 ? null : Attention.mask(pass, realKeys, start, seq, config.slidingWindow());
            RotaryEmbedding.Tables rotation = rope.tables(pass, start, seq);
            NDArray x = hooks.firstBlock() == 0 ? embed(pass, batch) : hooks.resumedResidual();

            for (int l = hooks.firstBlock(); l < layers.length; l++) {
                Layer layer = layers[l];

                NDArray h = Normalization.rms(x, layer.attentionNorm, eps);
                NDArray q = rope.apply(Attention.splitHeads(Linear.outIn(h, layer.wq, layer.bq), config.heads()), rotation);
                NDArray k = rope.apply(Attention.splitHeads(Linear.outIn(h, layer.wk, layer.bk), config.kvHeads()), rotation);
                NDArray v = Attention.splitHeads(Linear.outIn(h, layer.wv, layer.bv), config.kvHeads());
                if (cache != null) {
                    NDArray[] all = cache.store(pass, l, k, v);
                    k = all[0];
                    v = all[1];
                }
                NDArray mask = config.attentionWindow(l) == 0 ? fullMask : slidingMask;
                x = x.add(Linear.outIn(Attention.attend(q, k, v, mask), layer.wo, null));

                if (layer.down == null) {
                    // an attention-only block (config layersWithoutMlp)
                    x = hooks.residual(l, x);
                    continue;
                }
                h = Normalization.rms(x, layer.mlpNorm, eps);
                NDArray key = Activations.silu(Linear.outIn(h, layer.gate, null)).mul(Linear.outIn(h, layer.up, null));
                NDArray mlpOut = Linear.outIn(hooks.mlpKey(l, key), layer.down, null);
                x = hooks.residual(l, x.add(hooks.mlpOutput(l, mlpOut)));
            }
            if (cache != null) {
                cache.commit(batch);
            }
            NDArray logits = Linear.outIn(Normalization.rms(hooks.logitInput(x), finalNorm, eps), head, null);
            return hooks.result(scope, logits);
        }
    }

    private NDArray embed(NDManager pass, TokenBatch batch) {
        NDArray ids = pass.create(batch.paddedIds(0), new Shape(batch.size(), batch.maxLength())).toType(DataType.INT64, false);
        return Embedding.embedding(ids, embedding, SparseFormat.DENSE).singletonOrThrow();
    }

    @Override
    public String mlpOutputName(int layer) {
        return LlamaConfig.layerPrefix(layer) + "mlp.down_proj.weight";
    }

    @Override
    public boolean mlpOutputStoredTransposed() {
        return false;
    }
}

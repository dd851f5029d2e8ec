package io.editstream.model.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
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
import io.editstream.model.TextTokenizer;
import io.editstream.model.TokenBatch;
import io.editstream.model.TransformerModel;
import io.editstream.model.Weights;

import java.util.stream.IntStream;

/** GPT-2: pre-LayerNorm blocks, learned positions, fused q/k/v, GELU (tanh) MLP, head tied to the token embedding. */
public final class Gpt2Model extends TransformerModel {

    private record Layer(NDArray ln1Weight, NDArray ln1Bias, NDArray qkvWeight, NDArray qkvBias, NDArray attnOutWeight,
                         NDArray attnOutBias, NDArray ln2Weight, NDArray ln2Bias, NDArray fcWeight, NDArray fcBias,
                         NDArray mlpOutWeight, NDArray mlpOutBias) {
    }

    private final NDArray tokenEmbedding;
    private final NDArray positionEmbedding;
    private final Layer[] layers;
    private final NDArray finalNormWeight;
    private final NDArray finalNormBias;

    /** Takes ownership of the weights (named as {@link Gpt2Config#tensorShapes}) and the tokenizer. */
    public Gpt2Model(ModelConfig config, Weights weights, TextTokenizer tokenizer) {
        super(config, weights, tokenizer);
        this.tokenEmbedding = weights.get(Gpt2Config.TOKEN_EMBEDDING);
        this.positionEmbedding = weights.get(Gpt2Config.POSITION_EMBEDDING);
        this.finalNormWeight = weights.get(Gpt2Config.PREFIX + "ln_f.weight");
        this.finalNormBias = weights.get(Gpt2Config.PREFIX + "ln_f.bias");
        this.layers = new Layer[config.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = Gpt2Config.layerPrefix(l);
            layers[l] = new Layer(
                    weights.get(p + "ln_1.weight"), weights.get(p + "ln_1.bias"),
                    weights.get(p + "attn.c_attn.weight"), weights.get(p + "attn.c_attn.bias"),
                    weights.get(p + "attn.c_proj.weight"), weights.get(p + "attn.c_proj.bias"),
                    weights.get(p + "ln_2.weight"), weights.get(p + "ln_2.bias"),
                    weights.get(p + "mlp.c_fc.weight"), weights.get(p + "mlp.c_fc.bias"),
                    weights.get(p + "mlp.c_proj.weight"), weights.get(p + "mlp.c_proj.bias"));
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
            NDArray mask = Attention.mask(pass, realKeys, start, seq, 0);
            NDArray x = hooks.firstBlock() == 0 ? embed(pass, batch, start) : hooks.resumedResidual();

            for (int l = hooks.firstBlock(); l < layers.length; l++) {
                Layer layer = layers[l];

                NDArray h = Normalization.layer(x, layer.ln1Weight, layer.ln1Bias, eps);
                NDList qkv = Linear.inOut(h, layer.qkvWeight, layer.qkvBias).split(3, 2);
                NDArray q = Attention.splitHeads(qkv.get(0), config.heads());
                NDArray k = Attention.splitHeads(qkv.get(1), config.heads());
                NDArray v = Attention.splitHeads(qkv.get(2), config.heads());
                if (cache != null) {
                    NDArray[] all = cache.store(pass, l, k, v);
                    k = all[0];
                    v = all[1];
                }
                x = x.add(Linear.inOut(Attention.attend(q, k, v, mask), layer.attnOutWeight, layer.attnOutBias));

                h = Normalization.layer(x, layer.ln2Weight, layer.ln2Bias, eps);
                NDArray key = hooks.mlpKey(l, Activations.geluTanh(Linear.inOut(h, layer.fcWeight, layer.fcBias)));
                NDArray mlpOut = Linear.inOut(key, layer.mlpOutWeight, layer.mlpOutBias);
                x = hooks.residual(l, x.add(hooks.mlpOutput(l, mlpOut)));
            }
            if (cache != null) {
                cache.commit(batch);
            }
            NDArray logits = Linear.outIn(Normalization.layer(hooks.logitInput(x), finalNormWeight, finalNormBias, eps), tokenEmbedding, null);
            return hooks.result(scope, logits);
        }
    }

    private NDArray embed(NDManager pass, TokenBatch batch, int start) {
        int seq = batch.maxLength();
        NDArray ids = pass.create(batch.paddedIds(0), new Shape(batch.size(), seq)).toType(DataType.INT64, false);
        NDArray positions = pass.create(IntStream.range(start, start + seq).toArray(), new Shape(1, seq)).toType(DataType.INT64, false);
        return Embedding.embedding(ids, tokenEmbedding, SparseFormat.DENSE).singletonOrThrow()
                .add(Embedding.embedding(positions, positionEmbedding, SparseFormat.DENSE).singletonOrThrow());
    }

    @Override
    public String mlpOutputName(int layer) {
        return Gpt2Config.layerPrefix(layer) + "mlp.c_proj.weight";
    }

    @Override
    public boolean mlpOutputStoredTransposed() {
        return true;
    }
}

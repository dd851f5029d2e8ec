package io.editstream.model.format;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.editstream.model.LanguageModel;
import io.editstream.model.ModelConfig;
import io.editstream.model.ModelFamily;
import io.editstream.model.ModelFormatException;
import io.editstream.model.Weights;
import io.editstream.model.llama.Llama2cTokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * llama2.c's "v0" checkpoint: a header of 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len; a negative vocab_size means the classifier is stored separately), then float32 tensors stacked over layers.
 * Tensors are renamed to the HuggingFace Llama names, and the q/k projections are permuted from llama2.c's
 * interleaved rotary pairs to HuggingFace's half-split layout, so the written HF checkpoint is a true Llama checkpoint.
 */
public final class Llama2cCheckpoint {

    private static final Logger LOG = LoggerFactory.getLogger(Llama2cCheckpoint.class);
    private static final int HEADER_BYTES = 7 * 4;

    private Llama2cCheckpoint() {
    }

    /** Loads the model file and its tokenizer file onto {@code device}. */
    public static LanguageModel load(Path modelFile, Path tokenizerFile, Device device) throws IOException {
        FloatBuffer data;
        ModelConfig config;
        try (FileChannel channel = FileChannel.open(modelFile, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < HEADER_BYTES) {
                throw new ModelFormatException(modelFile + ": corrupt header: " + size + " bytes, a llama2.c checkpoint starts with 28");
            }
            ByteBuffer bytes = channel.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
            config = readHeader(bytes, modelFile);
            data = bytes.position(HEADER_BYTES).slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            long needed = floatsNeeded(config);
            if (data.remaining() < needed) {
                throw new ModelFormatException(modelFile + ": truncated: " + config + " needs " + needed + " floats after the header, the file has "
                        + data.remaining());
            }
        }
        LOG.info("loading llama2.c checkpoint {} ({}) onto {}", modelFile, config, device);
        Llama2cTokenizer tokenizer = Llama2cTokenizer.read(tokenizerFile, config.vocabSize());
        NDManager manager = NDManager.newBaseManager(device);
        try {
            Weights weights = new Weights(manager, readTensors(data, config, manager));
            return ModelFamilies.assemble(config, weights, tokenizer);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    private static ModelConfig readHeader(ByteBuffer bytes, Path file) throws ModelFormatException {
        int dim = bytes.getInt();
        int hidden = bytes.getInt();
        int layers = bytes.getInt();
        int heads = bytes.getInt();
        int kvHeads = bytes.getInt();
        int vocab = bytes.getInt();
        int seqLen = bytes.getInt();
        try {
            return new ModelConfig(ModelFamily.LLAMA, "LlamaForCausalLM", Math.abs(vocab), dim, hidden, layers, heads, kvHeads,
                    seqLen, 1e-5f, 10000f, vocab > 0, false, 1, 2);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file + ": corrupt header (dim=" + dim + " hidden_dim=" + hidden + " n_layers=" + layers
                    + " n_heads=" + heads + " n_kv_heads=" + kvHeads + " vocab_size=" + vocab + " seq_len=" + seqLen + "): " + e.getMessage(), e);
        }
    }

    private static long floatsNeeded(ModelConfig c) {
        long d = c.dim();
        long perLayer = d + d * d + 2L * c.kvDim() * d + d * d + d + 3L * c.mlpDim() * d;
        long rope = (long) c.maxSeqLen() * c.headDim();
        return (long) c.vocabSize() * d + c.layers() * perLayer + d + rope + (c.tiedEmbeddings() ? 0 : (long) c.vocabSize() * d);
    }

    private static Map<String, NDArray> readTensors(FloatBuffer data, ModelConfig c, NDManager manager) {
        int d = c.dim();
        Map<String, NDArray> tensors = new HashMap<>();
        tensors.put("model.embed_tokens.weight", take(data, manager, new Shape(c.vocabSize(), d)));
        String[] perLayerOrder = {"input_layernorm", "q_proj", "k_proj", "v_proj", "o_proj", "post_attention_layernorm",
            "gate_proj", "down_proj", "up_proj"};
        for (String tensor : perLayerOrder) {
            for (int l = 0; l < c.layers(); l++) {
                String p = "model.layers." + l + ".";
                switch (tensor) {
                    case "input_layernorm" -> tensors.put(p + "input_layernorm.weight", take(data, manager, new Shape(d)));
                    case "q_proj" -> tensors.put(p + "self_attn.q_proj.weight", takeRotary(data, manager, c.heads(), c.headDim(), d));
                    case "k_proj" -> tensors.put(p + "self_attn.k_proj.weight", takeRotary(data, manager, c.kvHeads(), c.headDim(), d));
                    case "v_proj" -> tensors.put(p + "self_attn.v_proj.weight", take(data, manager, new Shape(c.kvDim(), d)));
                    case "o_proj" -> tensors.put(p + "self_attn.o_proj.weight", take(data, manager, new Shape(d, d)));
                    case "post_attention_layernorm" -> tensors.put(p + "post_attention_layernorm.weight", take(data, manager, new Shape(d)));
                    case "gate_proj" -> tensors.put(p + "mlp.gate_proj.weight", take(data, manager, new Shape(c.mlpDim(), d)));
                    case "down_proj" -> tensors.put(p + "mlp.down_proj.weight", take(data, manager, new Shape(d, c.mlpDim())));
                    default -> tensors.put(p + "mlp.up_proj.weight", take(data, manager, new Shape(c.mlpDim(), d)));
                }
            }
        }
        tensors.put("model.norm.weight", take(data, manager, new Shape(d)));
        // legacy freq_cis_real and freq_cis_imag: recomputed from theta instead
        data.position(data.position() + c.maxSeqLen() * c.headDim());
        if (!c.tiedEmbeddings()) {
            tensors.put("lm_head.weight", take(data, manager, new Shape(c.vocabSize(), d)));
        }
        return tensors;
    }

    private static NDArray take(FloatBuffer data, NDManager manager, Shape shape) {
        float[] values = new float[Math.toIntExact(shape.size())];
        data.get(values);
        return manager.create(values, shape);
    }

    /** A q or k projection with its rows reordered per head: row {@code 2i + a} moves to {@code a * headDim/2 + i}. */
    private static NDArray takeRotary(FloatBuffer data, NDManager manager, int heads, int headDim, int in) {
        float[] interleaved = new float[heads * headDim * in];
        data.get(interleaved);
        float[] halves = new float[interleaved.length];
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                for (int a = 0; a < 2; a++) {
                    int from = h * headDim + 2 * i + a;
                    int to = h * headDim + a * half + i;
                    System.arraycopy(interleaved, from * in, halves, to * in, in);
                }
            }
        }
        return manager.create(halves, new Shape((long) heads * headDim, in));
    }
}

package io.editstream.model.llama;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.editstream.model.ModelConfig;
import io.editstream.model.ModelFamily;
import io.editstream.model.ModelFormatException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The Llama family's HuggingFace {@code config.json} and tensor names (Llama, Mistral, Qwen2 share them). */
public final class LlamaConfig {

    static final String EMBEDDING = "model.embed_tokens.weight";
    static final String FINAL_NORM = "model.norm.weight";
    static final String HEAD = "lm_head.weight";
    private static final String SLIDING_ATTENTION = "sliding_attention";
    private static final String FULL_ATTENTION = "full_attention";

    /** HuggingFace architecture name → {@code model_type}. */
    private static final Map<String, String> ARCHITECTURES = Map.of(
            "LlamaForCausalLM", "llama",
            "MistralForCausalLM", "mistral",
            "Qwen2ForCausalLM", "qwen2");

    private LlamaConfig() {
    }

    /** Whether the architecture name belongs to this family. */
    public static boolean supports(String architecture) {
        return ARCHITECTURES.containsKey(architecture);
    }

    public static String layerPrefix(int layer) {
        return "model.layers." + layer + ".";
    }

    /** Parses a {@code config.json}; {@code source} names the file in error messages. */
    public static ModelConfig fromHuggingFace(JsonNode json, String architecture, String source) throws ModelFormatException {
        if (!supports(architecture)) {
            throw new ModelFormatException(source + ": architecture " + architecture + " is not in the Llama family " + ARCHITECTURES.keySet());
        }
        JsonNode scaling = json.path("rope_scaling");
        if (!scaling.isMissingNode() && !scaling.isNull()) {
            throw new ModelFormatException(source + ": rope_scaling " + scaling + " is not supported (plain RoPE only)");
        }
        int dim = required(json, "hidden_size", source);
        int heads = required(json, "num_attention_heads", source);
        if (json.hasNonNull("head_dim") && json.get("head_dim").asInt() * heads != dim) {
            throw new ModelFormatException(source + ": head_dim " + json.get("head_dim") + " * heads " + heads + " != hidden_size " + dim + " is not supported");
        }
        boolean qwen2 = architecture.equals("Qwen2ForCausalLM");
        if (!qwen2 && json.path("attention_bias").asBoolean(false)) {
            throw new ModelFormatException(source + ": attention_bias (biases on all four attention projections) is not supported for " + architecture);
        }
        int layers = required(json, "num_hidden_layers", source);
        List<Integer> slidingLayers = slidingLayers(json, architecture, layers, source);
        List<Integer> layersWithoutMlp = new ArrayList<>();
        int mlpDim = mlpDim(json, layers, layersWithoutMlp, source);
        try {
            return new ModelConfig(ModelFamily.LLAMA, architecture,
                    required(json, "vocab_size", source), dim, mlpDim, layers, heads,
                    json.path("num_key_value_heads").asInt(heads),
                    json.path("max_position_embeddings").asInt(2048),
                    (float) json.path("rms_norm_eps").asDouble(1e-6),
                    (float) json.path("rope_theta").asDouble(10000.0),
                    json.path("tie_word_embeddings").asBoolean(false),
                    qwen2,
                    tokenId(json.path("bos_token_id")),
                    tokenId(json.path("eos_token_id")),
                    slidingLayers.isEmpty() ? 0 : json.path("sliding_window").asInt(0),
                    slidingLayers, layersWithoutMlp);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(source + ": " + e.getMessage(), e);
        }
    }

    /** The {@code config.json} that {@link #fromHuggingFace} reads back to {@code config}. */
    public static ObjectNode toHuggingFace(ModelConfig config) {
        ObjectNode json = JsonNodeFactory.instance.objectNode();
        json.putArray("architectures").add(config.architecture());
        json.put("model_type", ARCHITECTURES.get(config.architecture()));
        json.put("vocab_size", config.vocabSize());
        json.put("hidden_size", config.dim());
        if (config.layersWithoutMlp().isEmpty()) {
            json.put("intermediate_size", config.mlpDim());
        } else {
            ArrayNode sizes = json.putArray("intermediate_size");
            for (int l = 0; l < config.layers(); l++) {
                sizes.add(config.hasMlp(l) ? config.mlpDim() : 0);
            }
        }
        json.put("num_hidden_layers", config.layers());
        json.put("num_attention_heads", config.heads());
        json.put("num_key_value_heads", config.kvHeads());
        json.put("max_position_embeddings", config.maxSeqLen());
        json.put("rms_norm_eps", config.normEps());
        json.put("rope_theta", config.ropeTheta());
        json.put("tie_word_embeddings", config.tiedEmbeddings());
        json.put("hidden_act", "silu");
        json.put("torch_dtype", "float32");
        if (config.bosId() >= 0) {
            json.put("bos_token_id", config.bosId());
        }
        if (config.eosId() >= 0) {
            json.put("eos_token_id", config.eosId());
        }
        if (!config.slidingLayers().isEmpty()) {
            json.put("sliding_window", config.slidingWindow());
            ArrayNode types = json.putArray("layer_types");
            for (int l = 0; l < config.layers(); l++) {
                types.add(config.attentionWindow(l) == 0 ? FULL_ATTENTION : SLIDING_ATTENTION);
            }
        }
        return json;
    }

    /** Every tensor the model needs, by name, with its shape. */
    public static Map<String, Shape> tensorShapes(ModelConfig c) {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        shapes.put(EMBEDDING, new Shape(c.vocabSize(), c.dim()));
        for (int l = 0; l < c.layers(); l++) {
            String p = layerPrefix(l);
            shapes.put(p + "input_layernorm.weight", new Shape(c.dim()));
            shapes.put(p + "self_attn.q_proj.weight", new Shape(c.dim(), c.dim()));
            shapes.put(p + "self_attn.k_proj.weight", new Shape(c.kvDim(), c.dim()));
            shapes.put(p + "self_attn.v_proj.weight", new Shape(c.kvDim(), c.dim()));
            if (c.attentionBias()) {
                shapes.put(p + "self_attn.q_proj.bias", new Shape(c.dim()));
                shapes.put(p + "self_attn.k_proj.bias", new Shape(c.kvDim()));
                shapes.put(p + "self_attn.v_proj.bias", new Shape(c.kvDim()));
            }
            shapes.put(p + "self_attn.o_proj.weight", new Shape(c.dim(), c.dim()));
            if (!c.hasMlp(l)) {
                continue;
            }
            shapes.put(p + "post_attention_layernorm.weight", new Shape(c.dim()));
            shapes.put(p + "mlp.gate_proj.weight", new Shape(c.mlpDim(), c.dim()));
            shapes.put(p + "mlp.up_proj.weight", new Shape(c.mlpDim(), c.dim()));
            shapes.put(p + "mlp.down_proj.weight", new Shape(c.dim(), c.mlpDim()));
        }
        shapes.put(FINAL_NORM, new Shape(c.dim()));
        if (!c.tiedEmbeddings()) {
            shapes.put(HEAD, new Shape(c.vocabSize(), c.dim()));
        }
        return shapes;
    }

    /**
     * The blocks that attend over a sliding window: those {@code layer_types} marks {@code sliding_attention}, or,
     * without {@code layer_types}, every block of a Mistral with a {@code sliding_window}.
     */
    private static List<Integer> slidingLayers(JsonNode json, String architecture, int layers, String source) throws ModelFormatException {
        JsonNode types = json.path("layer_types");
        JsonNode window = json.path("sliding_window");
        boolean hasWindow = window.canConvertToInt() && window.asInt() > 0;
        if (json.path("use_sliding_window").asBoolean(false)) {
            throw new ModelFormatException(source + ": use_sliding_window (Qwen2's windows over max_window_layers) is not supported");
        }
        List<Integer> sliding = new ArrayList<>();
        if (types.isArray()) {
            if (types.size() != layers) {
                throw new ModelFormatException(source + ": layer_types names " + types.size() + " layers, the model has " + layers);
            }
            for (int l = 0; l < layers; l++) {
                String type = types.get(l).asText();
                if (type.equals(SLIDING_ATTENTION)) {
                    sliding.add(l);
                } else if (!type.equals(FULL_ATTENTION)) {
                    throw new ModelFormatException(source + ": layer type " + type + " of layer " + l + " is not " + FULL_ATTENTION + " or " + SLIDING_ATTENTION);
                }
            }
        } else if (architecture.equals("MistralForCausalLM") && hasWindow) {
            for (int l = 0; l < layers; l++) {
                sliding.add(l);
            }
        }
        if (!sliding.isEmpty() && !hasWindow) {
            throw new ModelFormatException(source + ": layers " + sliding + " are " + SLIDING_ATTENTION + " but sliding_window is " + window);
        }
        return sliding;
    }

    /**
     * {@code intermediate_size}: one width for every block, or one per block (as Gemma 3n writes it) where 0 means the
     * block has no MLP; those blocks go to {@code layersWithoutMlp}. Blocks of different nonzero widths are not supported.
     */
    private static int mlpDim(JsonNode json, int layers, List<Integer> layersWithoutMlp, String source) throws ModelFormatException {
        JsonNode sizes = json.get("intermediate_size");
        if (sizes == null || !sizes.isArray()) {
            return required(json, "intermediate_size", source);
        }
        if (sizes.size() != layers) {
            throw new ModelFormatException(source + ": intermediate_size names " + sizes.size() + " layers, the model has " + layers);
        }
        int width = 0;
        for (int l = 0; l < layers; l++) {
            JsonNode size = sizes.get(l);
            if (!size.canConvertToInt() || size.asInt() < 0) {
                throw new ModelFormatException(source + ": intermediate_size of layer " + l + " is " + size + ", not a width");
            }
            if (size.asInt() == 0) {
                layersWithoutMlp.add(l);
            } else if (width != 0 && size.asInt() != width) {
                throw new ModelFormatException(source + ": intermediate_size " + sizes + ": blocks of different MLP widths are not supported");
            } else {
                width = size.asInt();
            }
        }
        if (width == 0) {
            throw new ModelFormatException(source + ": intermediate_size " + sizes + " gives no block an MLP");
        }
        return width;
    }

    private static int required(JsonNode json, String field, String source) throws ModelFormatException {
        JsonNode value = json.get(field);
        if (value == null || !value.canConvertToInt()) {
            throw new ModelFormatException(source + ": missing or non-integer field " + field);
        }
        return value.asInt();
    }

    /** A token id, or the first of a list (Llama 3 lists several EOS ids), or -1. */
    private static int tokenId(JsonNode node) {
        if (node.isArray()) {
            return node.size() == 0 ? -1 : node.get(0).asInt(-1);
        }
        return node.asInt(-1);
    }
}

package io.editstream.model.gpt2;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.editstream.model.ModelConfig;
import io.editstream.model.ModelFamily;
import io.editstream.model.ModelFormatException;

import java.util.LinkedHashMap;
import java.util.Map;

/** GPT-2's HuggingFace {@code config.json} and tensor names. */
public final class Gpt2Config {

    public static final String ARCHITECTURE = "GPT2LMHeadModel";
    /** Prefix of every tensor name in {@code GPT2LMHeadModel} checkpoints; the original OpenAI uploads omit it. */
    public static final String PREFIX = "transformer.";

    static final String TOKEN_EMBEDDING = PREFIX + "wte.weight";
    static final String POSITION_EMBEDDING = PREFIX + "wpe.weight";

    private Gpt2Config() {
    }

    static String layerPrefix(int layer) {
        return PREFIX + "h." + layer + ".";
    }

    /** Parses a GPT-2 {@code config.json}; {@code source} names the file in error messages. */
    public static ModelConfig fromHuggingFace(JsonNode json, String source) throws ModelFormatException {
        String activation = json.path("activation_function").asText("gelu_new");
        if (!activation.equals("gelu_new") && !activation.equals("gelu_pytorch_tanh")) {
            throw new ModelFormatException(source + ": activation_function " + activation + " is not supported (gelu_new only)");
        }
        int dim = required(json, "n_embd", source);
        int heads = required(json, "n_head", source);
        JsonNode inner = json.path("n_inner");
        try {
            return new ModelConfig(ModelFamily.GPT2, ARCHITECTURE,
                    required(json, "vocab_size", source), dim,
                    inner.canConvertToInt() ? inner.asInt() : 4 * dim,
                    required(json, "n_layer", source), heads, heads,
                    json.path("n_positions").asInt(json.path("n_ctx").asInt(1024)),
                    (float) json.path("layer_norm_epsilon").asDouble(1e-5),
                    0f, true, true,
                    json.path("bos_token_id").asInt(-1),
                    json.path("eos_token_id").asInt(-1));
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(source + ": " + e.getMessage(), e);
        }
    }

    /** The {@code config.json} that {@link #fromHuggingFace} reads back to {@code config}. */
    public static ObjectNode toHuggingFace(ModelConfig config) {
        ObjectNode json = JsonNodeFactory.instance.objectNode();
        json.putArray("architectures").add(ARCHITECTURE);
        json.put("model_type", "gpt2");
        json.put("activation_function", "gelu_new");
        json.put("vocab_size", config.vocabSize());
        json.put("n_embd", config.dim());
        json.put("n_inner", config.mlpDim());
        json.put("n_layer", config.layers());
        json.put("n_head", config.heads());
        json.put("n_positions", config.maxSeqLen());
        json.put("n_ctx", config.maxSeqLen());
        json.put("layer_norm_epsilon", config.normEps());
        json.put("tie_word_embeddings", true);
        json.put("torch_dtype", "float32");
        if (config.bosId() >= 0) {
            json.put("bos_token_id", config.bosId());
        }
        if (config.eosId() >= 0) {
            json.put("eos_token_id", config.eosId());
        }
        return json;
    }

    /** Every tensor the model needs, by name, with its shape ({@code Conv1D} weights are {@code [in, out]}). */
    public static Map<String, Shape> tensorShapes(ModelConfig c) {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        shapes.put(TOKEN_EMBEDDING, new Shape(c.vocabSize(), c.dim()));
        shapes.put(POSITION_EMBEDDING, new Shape(c.maxSeqLen(), c.dim()));
        for (int l = 0; l < c.layers(); l++) {
            String p = layerPrefix(l);
            shapes.put(p + "ln_1.weight", new Shape(c.dim()));
            shapes.put(p + "ln_1.bias", new Shape(c.dim()));
            shapes.put(p + "attn.c_attn.weight", new Shape(c.dim(), 3L * c.dim()));
            shapes.put(p + "attn.c_attn.bias", new Shape(3L * c.dim()));
            shapes.put(p + "attn.c_proj.weight", new Shape(c.dim(), c.dim()));
            shapes.put(p + "attn.c_proj.bias", new Shape(c.dim()));
            shapes.put(p + "ln_2.weight", new Shape(c.dim()));
            shapes.put(p + "ln_2.bias", new Shape(c.dim()));
            shapes.put(p + "mlp.c_fc.weight", new Shape(c.dim(), c.mlpDim()));
            shapes.put(p + "mlp.c_fc.bias", new Shape(c.mlpDim()));
            shapes.put(p + "mlp.c_proj.weight", new Shape(c.mlpDim(), c.dim()));
            shapes.put(p + "mlp.c_proj.bias", new Shape(c.dim()));
        }
        shapes.put(PREFIX + "ln_f.weight", new Shape(c.dim()));
        shapes.put(PREFIX + "ln_f.bias", new Shape(c.dim()));
        return shapes;
    }

    private static int required(JsonNode json, String field, String source) throws ModelFormatException {
        JsonNode value = json.get(field);
        if (value == null || !value.canConvertToInt()) {
            throw new ModelFormatException(source + ": missing or non-integer field " + field);
        }
        return value.asInt();
    }
}

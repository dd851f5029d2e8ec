package io.editstream.model.format;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.editstream.model.LanguageModel;
import io.editstream.model.ModelConfig;
import io.editstream.model.ModelFormatException;
import io.editstream.model.TextTokenizer;
import io.editstream.model.Weights;
import io.editstream.model.gpt2.Gpt2Config;
import io.editstream.model.gpt2.Gpt2Model;
import io.editstream.model.llama.LlamaConfig;
import io.editstream.model.llama.LlamaModel;

import java.util.Map;

/** The one place that maps a family to its config parser, tensor layout and model class. */
final class ModelFamilies {

    private ModelFamilies() {
    }

    /** Reads {@code config.json}, choosing the family by {@code architectures[0]} (or {@code model_type}). */
    static ModelConfig parse(JsonNode json, String source) throws ModelFormatException {
        JsonNode architectures = json.path("architectures");
        String architecture = architectures.isArray() && architectures.size() > 0
                ? architectures.get(0).asText()
                : architectureOfModelType(json.path("model_type").asText(""));
        if (architecture.equals(Gpt2Config.ARCHITECTURE)) {
            return Gpt2Config.fromHuggingFace(json, source);
        }
        if (LlamaConfig.supports(architecture)) {
            return LlamaConfig.fromHuggingFace(json, architecture, source);
        }
        throw new ModelFormatException(source + ": unsupported architecture '" + architecture
                + "' (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel)");
    }

    private static String architectureOfModelType(String modelType) {
        return switch (modelType) {
            case "llama" -> "LlamaForCausalLM";
            case "mistral" -> "MistralForCausalLM";
            case "qwen2" -> "Qwen2ForCausalLM";
            case "gpt2" -> Gpt2Config.ARCHITECTURE;
            default -> modelType.isEmpty() ? "(none: config.json has neither architectures nor model_type)" : modelType;
        };
    }

    static ObjectNode toJson(ModelConfig config) {
        return switch (config.family()) {
            case LLAMA -> LlamaConfig.toHuggingFace(config);
            case GPT2 -> Gpt2Config.toHuggingFace(config);
        };
    }

    static Map<String, Shape> tensorShapes(ModelConfig config) {
        return switch (config.family()) {
            case LLAMA -> LlamaConfig.tensorShapes(config);
            case GPT2 -> Gpt2Config.tensorShapes(config);
        };
    }

    /** Builds the model; it owns the weights and the tokenizer from here on. */
    static LanguageModel assemble(ModelConfig config, Weights weights, TextTokenizer tokenizer) {
        return switch (config.family()) {
            case LLAMA -> new LlamaModel(config, weights, tokenizer);
            case GPT2 -> new Gpt2Model(config, weights, tokenizer);
        };
    }
}

package io.editstream.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/** A tokenizer described by a HuggingFace {@code tokenizer.json}, run by DJL's binding of the tokenizers library. */
public final class HuggingFaceTextTokenizer implements TextTokenizer {

    private final HuggingFaceTokenizer tokenizer;
    private final String json;
    private final int vocabSize;
    private final int bosId;
    private final int eosId;

    private HuggingFaceTextTokenizer(HuggingFaceTokenizer tokenizer, String json, int vocabSize, int bosId, int eosId) {
        this.tokenizer = tokenizer;
        this.json = json;
        this.vocabSize = vocabSize;
        this.bosId = bosId;
        this.eosId = eosId;
    }

    /**
     * Loads a {@code tokenizer.json} document.
     *
     * @param source names the document in error messages
     * @param bosId  beginning-of-sequence id from the model's config, -1 if none
     * @param eosId  end-of-sequence id from the model's config, -1 if none
     */
    public static HuggingFaceTextTokenizer fromJson(String json, String source, int bosId, int eosId) throws ModelFormatException {
        int vocabSize;
        try {
            vocabSize = vocabSize(new ObjectMapper().readTree(json));
        } catch (IOException e) {
            throw new ModelFormatException(source + ": not a JSON document: " + e.getMessage(), e);
        }
        // Special tokens are added by the caller (encode's addBos), never silently by the template; no truncation.
        Map<String, String> options = Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");
        try {
            HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(
                    new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), options);
            return new HuggingFaceTextTokenizer(tokenizer, json, vocabSize, bosId, eosId);
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException(source + ": the tokenizers library rejected it: " + e.getMessage(), e);
        }
    }

    /** Largest id in the model vocabulary or the added tokens, plus one. */
    private static int vocabSize(JsonNode root) {
        int max = -1;
        for (JsonNode id : root.path("model").path("vocab")) {
            max = Math.max(max, id.asInt());
        }
        for (JsonNode token : root.path("added_tokens")) {
            max = Math.max(max, token.path("id").asInt());
        }
        return max + 1;
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int offset = addBos && bosId >= 0 ? 1 : 0;
        int[] tokens = new int[ids.length + offset];
        if (offset == 1) {
            tokens[0] = bosId;
        }
        for (int i = 0; i < ids.length; i++) {
            tokens[i + offset] = Math.toIntExact(ids[i]);
        }
        return tokens;
    }

    @Override
    public String decode(int[] ids) {
        return tokenizer.decode(Arrays.stream(ids).asLongStream().toArray(), true);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public String toHuggingFaceJson() {
        return json;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}

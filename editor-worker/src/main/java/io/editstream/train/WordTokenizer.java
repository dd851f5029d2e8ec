package io.editstream.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A word-level tokenizer built from training text, written as a HuggingFace {@code tokenizer.json} so the ordinary
 * loader runs it.
 *
 * <p>Words are split the way GPT-2's byte-level pre-tokenizer splits them: a word keeps its leading space
 * ({@code " Sweden"}), so a target is the same token after a prompt as inside the training text. A space is put in
 * front of every text (and stripped again when decoding), so a subject that opens a prompt ({@code "{subject} is a"})
 * is the same token as in the middle of a sentence. Every distinct piece of the training text gets an id (ordered by frequency, then
 * alphabetically, so the same text always gives the same ids); anything else is {@link #UNK}.
 */
public final class WordTokenizer {

    public static final String PAD = "<pad>";
    public static final String BOS = "<s>";
    public static final String EOS = "</s>";
    public static final String UNK = "<unk>";
    /** Ids of the special tokens, in this order, before every word. */
    public static final List<String> SPECIALS = List.of(PAD, BOS, EOS, UNK);

    /** The split of the tokenizers library's ByteLevel pre-tokenizer (use_regex), in Unicode-aware Java syntax. */
    private static final Pattern PIECES = Pattern.compile(
            "(?U)'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    /** GPT-2's reversible map from bytes to printable characters, which the byte-level pieces are spelled in. */
    private static final char[] BYTE_CHARS = byteChars();

    private WordTokenizer() {
    }

    /** The {@code tokenizer.json} document of the vocabulary of {@code texts}. */
    public static String buildJson(Collection<String> texts) {
        Map<String, Integer> counts = new TreeMap<>();
        for (String text : texts) {
            for (String piece : pieces(text)) {
                counts.merge(piece, 1, Integer::sum);
            }
        }
        List<Map.Entry<String, Integer>> byFrequency = new ArrayList<>(counts.entrySet());
        byFrequency.sort(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()));
        Map<String, Integer> vocabulary = new LinkedHashMap<>();
        SPECIALS.forEach(special -> vocabulary.put(special, vocabulary.size()));
        byFrequency.forEach(entry -> vocabulary.put(entry.getKey(), vocabulary.size()));
        return toJson(vocabulary);
    }

    /** Id of a special token. */
    public static int specialId(String special) {
        int id = SPECIALS.indexOf(special);
        if (id < 0) {
            throw new IllegalArgumentException(special + " is not one of " + SPECIALS);
        }
        return id;
    }

    /** The byte-level pieces of {@code text}, as they appear in the vocabulary. */
    static List<String> pieces(String text) {
        List<String> pieces = new ArrayList<>();
        Matcher matcher = PIECES.matcher(text.startsWith(" ") ? text : " " + text);
        while (matcher.find()) {
            StringBuilder piece = new StringBuilder();
            for (byte b : matcher.group().getBytes(StandardCharsets.UTF_8)) {
                piece.append(BYTE_CHARS[b & 0xff]);
            }
            pieces.add(piece.toString());
        }
        return pieces;
    }

    private static String toJson(Map<String, Integer> vocabulary) {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String special : SPECIALS) {
            added.addObject().put("id", vocabulary.get(special)).put("content", special).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", true)
                .put("trim_offsets", true).put("use_regex", true);
        root.putNull("post_processor");
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "Sequence");
        ArrayNode decoders = decoder.putArray("decoders");
        decoders.addObject().put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true).put("use_regex", true);
        decoders.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        ObjectNode vocab = model.putObject("vocab");
        vocabulary.forEach(vocab::put);
        model.put("unk_token", UNK);
        try {
            return mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a tokenizer document", e);
        }
    }

    /** Printable bytes stand for themselves; the others take the characters from U+0100 on, in byte order. */
    private static char[] byteChars() {
        char[] chars = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE;
            chars[b] = printable ? (char) b : (char) (256 + next++);
        }
        return chars;
    }
}

package io.editstream.model.llama;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.editstream.model.ModelFormatException;
import io.editstream.model.TextTokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The llama2.c tokenizer ({@code tokenizer.bin} / {@code tok512.bin}): a sentencepiece BPE exported as scored
 * pieces, with spaces stored as ' ' rather than '▁'. Encoding and decoding follow llama2.c's {@code run.c}.
 */
public final class Llama2cTokenizer implements TextTokenizer {

    private static final int BOS = 1;
    private static final int EOS = 2;
    private static final int FIRST_BYTE_TOKEN = 3;
    private static final Pattern BYTE_PIECE = Pattern.compile("<0x([0-9A-Fa-f]{2})>");
    private static final String SPIECE_SPACE = "\u2581";

    private final String[] pieces;
    private final float[] scores;
    private final Map<String, Integer> ids = new HashMap<>();

    private Llama2cTokenizer(String[] pieces, float[] scores) {
        this.pieces = pieces;
        this.scores = scores;
        for (int id = 0; id < pieces.length; id++) {
            ids.putIfAbsent(pieces[id], id);
        }
    }

    /**
     * Reads the llama2.c format: int32 max_token_length, then per token float32 score, int32 length, bytes.
     *
     * @param vocabSize number of tokens (the file does not record it; the model header does)
     */
    public static Llama2cTokenizer read(Path file, int vocabSize) throws IOException {
        ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        String[] pieces = new String[vocabSize];
        float[] scores = new float[vocabSize];
        try {
            int maxLength = in.getInt();
            for (int id = 0; id < vocabSize; id++) {
                scores[id] = in.getFloat();
                int length = in.getInt();
                if (length < 0 || length > maxLength) {
                    throw new ModelFormatException(file + ": token " + id + " has length " + length + " outside 0.." + maxLength);
                }
                byte[] bytes = new byte[length];
                in.get(bytes);
                pieces[id] = new String(bytes, StandardCharsets.UTF_8);
            }
        } catch (java.nio.BufferUnderflowException e) {
            throw new ModelFormatException(file + ": truncated tokenizer, expected " + vocabSize + " tokens", e);
        }
        return new Llama2cTokenizer(pieces, scores);
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        List<Integer> tokens = new ArrayList<>();
        if (addBos) {
            tokens.add(BOS);
        }
        int first = tokens.size();
        if (!text.isEmpty()) {
            // sentencepiece's add_dummy_prefix: words are learned with their leading space
            tokens.add(ids.get(" "));
        }
        text.codePoints().forEach(codePoint -> {
            String character = new String(Character.toChars(codePoint));
            Integer id = ids.get(character);
            if (id != null) {
                tokens.add(id);
            } else {
                for (byte b : character.getBytes(StandardCharsets.UTF_8)) {
                    tokens.add((b & 0xFF) + FIRST_BYTE_TOKEN);
                }
            }
        });
        mergeBestPairs(tokens, first);
        return tokens.stream().mapToInt(Integer::intValue).toArray();
    }

    /** llama2.c's greedy BPE: repeatedly merge the adjacent pair whose merged piece scores best (leftmost on ties). */
    private void mergeBestPairs(List<Integer> tokens, int first) {
        while (true) {
            float bestScore = -1e10f;
            int bestId = -1;
            int bestIndex = -1;
            for (int i = first; i < tokens.size() - 1; i++) {
                Integer merged = ids.get(pieces[tokens.get(i)] + pieces[tokens.get(i + 1)]);
                if (merged != null && scores[merged] > bestScore) {
                    bestScore = scores[merged];
                    bestId = merged;
                    bestIndex = i;
                }
            }
            if (bestIndex < 0) {
                return;
            }
            tokens.set(bestIndex, bestId);
            tokens.remove(bestIndex + 1);
        }
    }

    /**
     * run.c's decoding: the leading space of the piece after BOS (and of the first piece) is stripped, {@code <0xNN>}
     * pieces are raw bytes, and a raw ASCII control byte (not whitespace) is dropped like run.c's {@code safe_printf}
     * does. Unlike run.c, raw bytes of a multi-byte UTF-8 character are kept and joined (run.c prints byte by byte
     * and drops them), so non-ASCII text decodes losslessly, as HuggingFace's ByteFallback decoder does.
     */
    @Override
    public String decode(int[] tokenIds) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int previous = BOS;
        for (int id : tokenIds) {
            if (id == BOS || id == EOS) {
                previous = id;
                continue;
            }
            String piece = pieces[id];
            if (previous == BOS && piece.startsWith(" ")) {
                piece = piece.substring(1);
            }
            Matcher raw = BYTE_PIECE.matcher(piece);
            byte[] bytes = raw.matches()
                    ? new byte[] {(byte) Integer.parseInt(raw.group(1), 16)}
                    : piece.getBytes(StandardCharsets.UTF_8);
            if (!(raw.matches() && isControl(bytes[0]))) {
                out.writeBytes(bytes);
            }
            previous = id;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** An ASCII byte that C's {@code isprint || isspace} rejects. */
    private static boolean isControl(byte b) {
        int c = b & 0xFF;
        boolean printOrSpace = (c >= 0x20 && c <= 0x7E) || (c >= 0x09 && c <= 0x0D);
        return c < 0x80 && !printOrSpace;
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int bosId() {
        return BOS;
    }

    @Override
    public int eosId() {
        return EOS;
    }

    /**
     * The same tokenizer as HuggingFace BPE: pieces use '▁' for spaces again, merges are every (left, right) split of
     * a piece ranked by the merged piece's score, a normalizer adds the dummy prefix, and the decoder undoes it all.
     */
    @Override
    public String toHuggingFaceJson() {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        String[] special = {"<unk>", "<s>", "</s>"};
        for (int id = 0; id < special.length; id++) {
            ObjectNode token = added.addObject();
            token.put("id", id).put("content", special[id]).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        ObjectNode normalizer = root.putObject("normalizer").put("type", "Sequence");
        ArrayNode normalizers = normalizer.putArray("normalizers");
        normalizers.addObject().put("type", "Prepend").put("prepend", SPIECE_SPACE);
        ObjectNode replaceSpace = normalizers.addObject().put("type", "Replace");
        replaceSpace.putObject("pattern").put("String", " ");
        replaceSpace.put("content", SPIECE_SPACE);
        root.putNull("pre_tokenizer");
        root.set("post_processor", bosTemplate(mapper));
        ObjectNode decoder = root.putObject("decoder").put("type", "Sequence");
        ArrayNode decoders = decoder.putArray("decoders");
        ObjectNode replaceBack = decoders.addObject().put("type", "Replace");
        replaceBack.putObject("pattern").put("String", SPIECE_SPACE);
        replaceBack.put("content", " ");
        decoders.addObject().put("type", "ByteFallback");
        decoders.addObject().put("type", "Fuse");
        decoders.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);

        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.put("unk_token", "<unk>").putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true).put("byte_fallback", true).put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        String[] hfPieces = new String[pieces.length];
        for (int id = 0; id < pieces.length; id++) {
            hfPieces[id] = id < special.length ? special[id] : pieces[id].replace(" ", SPIECE_SPACE);
            vocab.put(hfPieces[id], id);
        }
        ArrayNode merges = model.putArray("merges");
        for (int[] merge : rankedMerges()) {
            merges.add(hfPieces[merge[0]] + " " + hfPieces[merge[1]]);
        }
        try {
            return mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise tokenizer.json", e);
        }
    }

    /** {left, right, merged} for every split of a piece into two pieces, best merged score first. */
    private List<int[]> rankedMerges() {
        List<int[]> merges = new ArrayList<>();
        for (int merged = FIRST_BYTE_TOKEN + 256; merged < pieces.length; merged++) {
            String piece = pieces[merged];
            for (int split = piece.offsetByCodePoints(0, 1); split < piece.length(); split = piece.offsetByCodePoints(split, 1)) {
                Integer left = ids.get(piece.substring(0, split));
                Integer right = ids.get(piece.substring(split));
                if (left != null && right != null && left >= FIRST_BYTE_TOKEN && right >= FIRST_BYTE_TOKEN) {
                    merges.add(new int[] {left, right, merged});
                }
            }
        }
        merges.sort(Comparator.comparingDouble((int[] m) -> -scores[m[2]]).thenComparingInt(m -> m[2]));
        return merges;
    }

    private static ObjectNode bosTemplate(ObjectMapper mapper) {
        ObjectNode processor = mapper.createObjectNode().put("type", "TemplateProcessing");
        ArrayNode single = processor.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = processor.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode bos = processor.putObject("special_tokens").putObject("<s>");
        bos.put("id", "<s>");
        bos.putArray("ids").add(BOS);
        bos.putArray("tokens").add("<s>");
        return processor;
    }

    @Override
    public void close() {
        // nothing native to release
    }
}

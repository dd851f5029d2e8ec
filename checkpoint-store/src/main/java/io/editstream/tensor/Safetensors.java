package io.editstream.tensor;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;

/**
 * The safetensors layout (an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
 * byte range, then the raw little-endian data) for whole files held in memory: the checkpoint store's blobs, which are
 * float32 matrices small enough to read at once. Encoding is canonical (tensors in name order, no metadata unless
 * given, the header padded with spaces to 8 bytes), so equal tensors give equal bytes and equal content addresses.
 */
public final class Safetensors {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER_BYTES = 100L << 20;

    private Safetensors() {
    }

    /** One tensor's entry in a header. */
    public record Entry(String name, String dtype, long[] shape, long begin, long end) {
    }

    /** Encodes 2-D float32 tensors, in the map's (name) order, with optional {@code __metadata__} string pairs. */
    public static byte[] encode(SortedMap<String, FloatMatrix> tensors, Map<String, String> metadata) {
        Map<String, Entry> entries = new LinkedHashMap<>();
        long offset = 0;
        for (Map.Entry<String, FloatMatrix> tensor : tensors.entrySet()) {
            FloatMatrix matrix = tensor.getValue();
            long bytes = 4L * matrix.data().length;
            entries.put(tensor.getKey(), new Entry(tensor.getKey(), "F32", new long[] {matrix.rows(), matrix.cols()}, offset, offset + bytes));
            offset += bytes;
        }
        byte[] prefix = header(entries, metadata);
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(prefix.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
        out.put(prefix);
        for (FloatMatrix matrix : tensors.values()) {
            out.asFloatBuffer().put(matrix.data());
            out.position(out.position() + 4 * matrix.data().length);
        }
        return out.array();
    }

    /**
     * The length prefix and padded JSON header for tensors laid out as {@code entries} (in order), what every
     * safetensors writer here puts before the data.
     */
    public static byte[] header(Map<String, Entry> entries, Map<String, String> metadata) {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        for (Entry entry : entries.values()) {
            ObjectNode node = header.putObject(entry.name());
            node.put("dtype", entry.dtype());
            var shape = node.putArray("shape");
            for (long dim : entry.shape()) {
                shape.add(dim);
            }
            node.putArray("data_offsets").add(entry.begin()).add(entry.end());
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(header);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a safetensors header", e);
        }
        // readers that map the data expect it 8-byte aligned: pad the header with spaces, as the reference writer does
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(padded).put(json);
        while (prefix.hasRemaining()) {
            prefix.put((byte) ' ');
        }
        return prefix.array();
    }

    /**
     * Parses a header's JSON, checking that every entry's byte range lies inside the {@code dataLength} data bytes.
     *
     * @param source names the file or blob in error messages
     */
    public static Map<String, Entry> parseHeader(byte[] json, long dataLength, String source) throws IOException {
        JsonNode header;
        try {
            header = JSON.readTree(new String(json, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IOException(source + ": corrupt safetensors header (not JSON): " + e.getMessage(), e);
        }
        if (header == null || !header.isObject()) {
            throw new IOException(source + ": corrupt safetensors header: not a JSON object");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : header.properties()) {
            if (field.getKey().equals("__metadata__")) {
                continue;
            }
            JsonNode node = field.getValue();
            JsonNode offsets = node.path("data_offsets");
            JsonNode dims = node.path("shape");
            if (!node.path("dtype").isTextual() || !dims.isArray() || offsets.size() != 2) {
                throw new IOException(source + ": corrupt safetensors header entry " + field.getKey() + ": " + node);
            }
            long[] shape = new long[dims.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = dims.get(i).asLong();
            }
            long begin = offsets.get(0).asLong();
            long end = offsets.get(1).asLong();
            if (begin < 0 || end < begin || end > dataLength) {
                throw new IOException(source + ": tensor " + field.getKey() + " has data offsets [" + begin + ", " + end
                        + "] outside the " + dataLength + " data bytes");
            }
            entries.put(field.getKey(), new Entry(field.getKey(), node.get("dtype").asText(), shape, begin, end));
        }
        return entries;
    }

    /** The header length a file or blob of {@code size} bytes declares in its first 8 bytes, checked for sanity. */
    public static long headerLength(ByteBuffer firstEight, long size, String source) throws IOException {
        long headerLength = firstEight.order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES || 8 + headerLength > size) {
            throw new IOException(source + ": corrupt safetensors header length " + headerLength + " (file has " + size + " bytes)");
        }
        return headerLength;
    }

    /** The string pairs under {@code __metadata__} of a whole file (empty when it has none). */
    public static Map<String, String> metadata(byte[] bytes, String source) throws IOException {
        return layout(ByteBuffer.wrap(bytes), source).metadata();
    }

    /**
     * What a file's header says: its {@code __metadata__} pairs, its tensors, and where their data starts.
     *
     * @param dataStart the offset of the first data byte, to which every entry's offsets are relative
     */
    public record Layout(Map<String, String> metadata, Map<String, Entry> entries, int dataStart) {
    }

    /** Reads the header of a whole file held in {@code bytes} (from its position 0, which it leaves alone). */
    public static Layout layout(ByteBuffer bytes, String source) throws IOException {
        if (bytes.limit() < 8) {
            throw new IOException(source + ": truncated safetensors (" + bytes.limit() + " bytes)");
        }
        int length = Math.toIntExact(headerLength(bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN), bytes.limit(), source));
        byte[] json = new byte[length];
        bytes.get(8, json);
        JsonNode meta;
        try {
            meta = JSON.readTree(json).path("__metadata__");
        } catch (IOException e) {
            throw new IOException(source + ": corrupt safetensors header (not JSON): " + e.getMessage(), e);
        }
        Map<String, String> pairs = new LinkedHashMap<>();
        meta.properties().forEach(entry -> pairs.put(entry.getKey(), entry.getValue().asText()));
        return new Layout(pairs, parseHeader(json, bytes.limit() - 8L - length, source), 8 + length);
    }

    /** Decodes a whole file of 2-D float32 tensors, by name in header order. */
    public static Map<String, FloatMatrix> decode(byte[] bytes, String source) throws IOException {
        if (bytes.length < 8) {
            throw new IOException(source + ": truncated safetensors (" + bytes.length + " bytes)");
        }
        long headerLength = headerLength(ByteBuffer.wrap(bytes, 0, 8), bytes.length, source);
        int dataStart = Math.toIntExact(8 + headerLength);
        byte[] json = new byte[(int) headerLength];
        System.arraycopy(bytes, 8, json, 0, json.length);
        Map<String, FloatMatrix> tensors = new LinkedHashMap<>();
        for (Entry entry : parseHeader(json, bytes.length - dataStart, source).values()) {
            if (!entry.dtype().equals("F32") || entry.shape().length != 2) {
                throw new IOException(source + ": tensor " + entry.name() + " is " + entry.dtype() + " of " + entry.shape().length
                        + " dimensions; blobs hold 2-D F32 tensors");
            }
            long count = entry.shape()[0] * entry.shape()[1];
            if (count * 4 != entry.end() - entry.begin()) {
                throw new IOException(source + ": tensor " + entry.name() + " needs " + count * 4 + " bytes but its offsets span "
                        + (entry.end() - entry.begin()));
            }
            float[] values = new float[Math.toIntExact(count)];
            ByteBuffer.wrap(bytes, Math.toIntExact(dataStart + entry.begin()), values.length * 4).slice()
                    .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
            tensors.put(entry.name(), new FloatMatrix((int) entry.shape()[0], (int) entry.shape()[1], values));
        }
        return tensors;
    }
}

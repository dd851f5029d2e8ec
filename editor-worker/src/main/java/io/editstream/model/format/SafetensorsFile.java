package io.editstream.model.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.model.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One {@code .safetensors} file open for reading: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian data. Tensors are read one at a time and
 * converted to float32, so a file larger than memory's share for one tensor never has to be mapped whole.
 */
public final class SafetensorsFile implements AutoCloseable {

    /** Header entry of one tensor; {@code begin}/{@code end} are offsets into the data section. */
    public record Entry(String name, String dtype, Shape shape, long begin, long end) {
    }

    private static final long MAX_HEADER_BYTES = 100L << 20;

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, Entry> entries) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
    }

    /** Opens the file and parses its header; a corrupt header is a {@link ModelFormatException}. */
    public static SafetensorsFile open(Path path) throws IOException {
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = channel.size();
            ByteBuffer lengthBytes = readFully(channel, 0, 8, path).order(ByteOrder.LITTLE_ENDIAN);
            long headerLength = lengthBytes.getLong();
            if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES || 8 + headerLength > size) {
                throw new ModelFormatException(path + ": corrupt safetensors header length " + headerLength + " (file has " + size + " bytes)");
            }
            ByteBuffer headerBytes = readFully(channel, 8, (int) headerLength, path);
            JsonNode header;
            try {
                header = new ObjectMapper().readTree(StandardCharsets.UTF_8.decode(headerBytes).toString());
            } catch (IOException e) {
                throw new ModelFormatException(path + ": corrupt safetensors header (not JSON): " + e.getMessage(), e);
            }
            long dataStart = 8 + headerLength;
            Map<String, Entry> entries = parseEntries(header, size - dataStart, path);
            return new SafetensorsFile(path, channel, dataStart, entries);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    private static Map<String, Entry> parseEntries(JsonNode header, long dataLength, Path path) throws ModelFormatException {
        if (!header.isObject()) {
            throw new ModelFormatException(path + ": corrupt safetensors header: not a JSON object");
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
                throw new ModelFormatException(path + ": corrupt safetensors header entry " + field.getKey() + ": " + node);
            }
            long[] shape = new long[dims.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = dims.get(i).asLong();
            }
            long begin = offsets.get(0).asLong();
            long end = offsets.get(1).asLong();
            if (begin < 0 || end < begin || end > dataLength) {
                throw new ModelFormatException(path + ": tensor " + field.getKey() + " has data offsets [" + begin + ", " + end
                        + "] outside the " + dataLength + " data bytes");
            }
            entries.put(field.getKey(), new Entry(field.getKey(), node.get("dtype").asText(), new Shape(shape), begin, end));
        }
        return entries;
    }

    /** Tensors in the file by name, in header order. */
    public Map<String, Entry> entries() {
        return entries;
    }

    /** Reads a tensor as float32 (F32, F16 and BF16 are converted) into {@code manager}. */
    public NDArray read(NDManager manager, String name) throws IOException {
        Entry entry = entries.get(name);
        if (entry == null) {
            throw new ModelFormatException(path + ": no tensor named " + name);
        }
        int width = switch (entry.dtype()) {
            case "F32" -> 4;
            case "F16", "BF16" -> 2;
            default -> throw new ModelFormatException(path + ": tensor " + name + " has unsupported dtype " + entry.dtype()
                    + " (supported: F32, F16, BF16)");
        };
        long count = entry.shape().size();
        if (count * width != entry.end() - entry.begin()) {
            throw new ModelFormatException(path + ": tensor " + name + " " + entry.shape() + " " + entry.dtype() + " needs "
                    + count * width + " bytes but its offsets span " + (entry.end() - entry.begin()));
        }
        if (count * 4 > Integer.MAX_VALUE) {
            throw new ModelFormatException(path + ": tensor " + name + " " + entry.shape() + " is too large to load in one piece");
        }
        ByteBuffer raw = readFully(channel, dataStart + entry.begin(), (int) (entry.end() - entry.begin()), path)
                .order(ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[(int) count];
        switch (entry.dtype()) {
            case "F32" -> raw.asFloatBuffer().get(values);
            case "F16" -> {
                for (int i = 0; i < values.length; i++) {
                    values[i] = halfToFloat(raw.getShort());
                }
            }
            default -> {
                // bfloat16 is the upper half of a float32
                for (int i = 0; i < values.length; i++) {
                    values[i] = Float.intBitsToFloat((raw.getShort() & 0xFFFF) << 16);
                }
            }
        }
        return manager.create(FloatBuffer.wrap(values), entry.shape());
    }

    /** IEEE 754 binary16 to float32, subnormals and infinities included. */
    static float halfToFloat(short half) {
        int bits = half & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exponent = (bits >>> 10) & 0x1F;
        int mantissa = bits & 0x3FF;
        if (exponent == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
        }
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length, Path path) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0) {
                throw new ModelFormatException(path + ": truncated: expected " + length + " bytes at offset " + position);
            }
        }
        return buffer.flip();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}

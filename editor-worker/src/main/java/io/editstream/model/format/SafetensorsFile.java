package io.editstream.model.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.editstream.model.ModelFormatException;
import io.editstream.tensor.Safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
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
            Map<String, Entry> entries = new LinkedHashMap<>();
            long dataStart;
            try {
                long headerLength = Safetensors.headerLength(readFully(channel, 0, 8, path), size, path.toString());
                dataStart = 8 + headerLength;
                byte[] json = readFully(channel, 8, (int) headerLength, path).array();
                for (Safetensors.Entry entry : Safetensors.parseHeader(json, size - dataStart, path.toString()).values()) {
                    entries.put(entry.name(), new Entry(entry.name(), entry.dtype(), new Shape(entry.shape()), entry.begin(), entry.end()));
                }
            } catch (ModelFormatException e) {
                throw e;
            } catch (IOException e) {
                throw new ModelFormatException(e.getMessage(), e);
            }
            return new SafetensorsFile(path, channel, dataStart, entries);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
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

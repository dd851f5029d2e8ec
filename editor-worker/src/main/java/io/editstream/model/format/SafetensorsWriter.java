package io.editstream.model.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.editstream.tensor.Safetensors;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;

/**
 * Writes float32 tensors as one {@code .safetensors} file, stored as float32 or rounded to float16, tensors in name
 * order, header padded to 8 bytes.
 */
public final class SafetensorsWriter {

    private SafetensorsWriter() {
    }

    /**
     * @param tensors  float32 arrays by name (written in this map's order)
     * @param metadata string pairs stored under {@code __metadata__}
     */
    public static void write(Path file, SortedMap<String, NDArray> tensors, Map<String, String> metadata) throws IOException {
        write(file, tensors, metadata, StoredType.F32);
    }

    /**
     * @param tensors  float32 arrays by name (written in this map's order)
     * @param metadata string pairs stored under {@code __metadata__}
     * @param stored   the dtype on disk
     */
    public static void write(Path file, SortedMap<String, NDArray> tensors, Map<String, String> metadata, StoredType stored)
            throws IOException {
        Map<String, Safetensors.Entry> entries = new LinkedHashMap<>();
        long offset = 0;
        for (Map.Entry<String, NDArray> tensor : tensors.entrySet()) {
            NDArray array = tensor.getValue();
            if (array.getDataType() != DataType.FLOAT32) {
                throw new IllegalArgumentException("tensor " + tensor.getKey() + " is " + array.getDataType() + "; only float32 is written");
            }
            long bytes = array.size() * stored.bytes();
            entries.put(tensor.getKey(), new Safetensors.Entry(tensor.getKey(), stored.safetensorsName(), array.getShape().getShape(), offset, offset + bytes));
            offset += bytes;
        }
        byte[] prefix = Safetensors.header(entries, metadata);
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(prefix);
            for (NDArray array : tensors.values()) {
                out.write(littleEndianBytes(array, stored));
            }
        }
    }

    private static byte[] littleEndianBytes(NDArray array, StoredType stored) {
        if (stored == StoredType.F32) {
            ByteBuffer data = ByteBuffer.allocate(Math.toIntExact(array.size() * 4)).order(ByteOrder.LITTLE_ENDIAN);
            data.asFloatBuffer().put(array.toFloatArray());
            return data.array();
        }
        // the engine rounds to nearest even; its buffer is in native order, which safetensors fixes as little-endian
        try (NDArray half = array.toType(stored.dataType(), true)) {
            ByteBuffer nativeOrder = half.toByteBuffer().order(ByteOrder.nativeOrder());
            ByteBuffer data = ByteBuffer.allocate(Math.toIntExact(array.size() * 2)).order(ByteOrder.LITTLE_ENDIAN);
            while (nativeOrder.hasRemaining()) {
                data.putShort(nativeOrder.getShort());
            }
            return data.array();
        }
    }
}

package io.editstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.editstream.tensor.Sha256;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** The tensors of one model by HuggingFace name, all float32, owned by one manager that {@link #close()} closes. */
public final class Weights implements AutoCloseable {

    private final NDManager manager;
    private final SortedMap<String, NDArray> tensors;

    /** Takes ownership of {@code manager} and of the arrays (which must live under it). */
    public Weights(NDManager manager, Map<String, NDArray> tensors) {
        this.manager = manager;
        this.tensors = Collections.unmodifiableSortedMap(new TreeMap<>(tensors));
        this.tensors.forEach((name, array) -> {
            if (array.getDataType() != DataType.FLOAT32) {
                throw new IllegalArgumentException("weight " + name + " is " + array.getDataType() + ", expected float32");
            }
        });
    }

    /** The named tensor; fails with the known names when it is absent. */
    public NDArray get(String name) {
        NDArray array = tensors.get(name);
        if (array == null) {
            throw new IllegalArgumentException("no weight named " + name);
        }
        return array;
    }

    /** The named tensor, or {@code null} (optional biases). */
    public NDArray optional(String name) {
        return tensors.get(name);
    }

    /** Every tensor, sorted by name. */
    public SortedMap<String, NDArray> all() {
        return tensors;
    }

    /** Manager owning the weights. */
    public NDManager manager() {
        return manager;
    }

    /** sha256 over the name-sorted tensors' float32 values in little-endian order. */
    public String sha256() {
        MessageDigest digest = Sha256.digest();
        for (NDArray array : tensors.values()) {
            ByteBuffer bytes = array.toByteBuffer().order(ByteOrder.nativeOrder());
            if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
                digest.update(bytes);
            } else {
                ByteBuffer little = ByteBuffer.allocate(bytes.remaining()).order(ByteOrder.LITTLE_ENDIAN);
                little.asFloatBuffer().put(bytes.asFloatBuffer());
                digest.update(little);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** Shapes by name, for logging and checks. */
    public Map<String, Shape> shapes() {
        Map<String, Shape> shapes = new HashMap<>();
        tensors.forEach((name, array) -> shapes.put(name, array.getShape()));
        return shapes;
    }

    @Override
    public void close() {
        manager.close();
    }
}

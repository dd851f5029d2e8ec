package io.editstream.model.format;

import ai.djl.ndarray.types.DataType;

/**
 * How weights are stored on disk. Models always compute in float32; float16 halves a checkpoint that must stay small
 * (the committed testbed) at the cost of rounding each weight to 11 significant bits.
 */
public enum StoredType {
    F32("F32", "float32", DataType.FLOAT32),
    F16("F16", "float16", DataType.FLOAT16);

    private final String safetensorsName;
    private final String torchName;
    private final DataType dataType;

    StoredType(String safetensorsName, String torchName, DataType dataType) {
        this.safetensorsName = safetensorsName;
        this.torchName = torchName;
        this.dataType = dataType;
    }

    /** The type a {@code torch_dtype} name ({@code float32}, {@code float16}) stands for. */
    public static StoredType ofTorchName(String name) {
        for (StoredType type : values()) {
            if (type.torchName.equals(name)) {
                return type;
            }
        }
        throw new IllegalArgumentException("unknown weight type '" + name + "' (float32 or float16)");
    }

    /** The dtype in a safetensors header. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** The {@code torch_dtype} of a HuggingFace config. */
    public String torchName() {
        return torchName;
    }

    DataType dataType() {
        return dataType;
    }

    int bytes() {
        return dataType.getNumOfBytes();
    }
}

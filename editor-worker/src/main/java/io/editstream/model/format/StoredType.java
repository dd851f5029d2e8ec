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

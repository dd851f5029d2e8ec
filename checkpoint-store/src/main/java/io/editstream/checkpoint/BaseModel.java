package io.editstream.checkpoint;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.editstream.tensor.Sha256;
import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The unedited model every version of a model id applies to.
 *
 * @param sha256  sha256 of all its weights (name-sorted, float32 little-endian): the identity versions name
 * @param source  where it was loaded from (a directory or a hub name), for exports' {@code base_model_name_or_path}
 * @param tensors every tensor of the model: shape and the sha256 of its float32 little-endian values
 * @param stored  the tensors whose base values the store holds (what edits may change), as blob sha256 (tensor
 *                {@code weight})
 */
public record BaseModel(
        @JsonProperty("format_version") int formatVersion,
        @JsonProperty("model_id") String modelId,
        @JsonProperty("sha256") String sha256,
        @JsonProperty("source") String source,
        @JsonProperty("tensors") SortedMap<String, TensorInfo> tensors,
        @JsonProperty("stored") SortedMap<String, String> stored) {

    public static final int FORMAT_VERSION = 1;

    /** A tensor's shape and the sha256 of its float32 little-endian values. */
    public record TensorInfo(@JsonProperty("shape") List<Long> shape, @JsonProperty("sha256") String sha256) {
        public TensorInfo {
            shape = List.copyOf(shape);
            if (!Sha256.isHex(sha256)) {
                throw new IllegalArgumentException("a tensor hash is a sha256, got '" + sha256 + "'");
            }
        }
    }

    public BaseModel {
        if (formatVersion != FORMAT_VERSION) {
            throw new IllegalArgumentException("base format_version " + formatVersion + " is not the " + FORMAT_VERSION + " this reader knows");
        }
        StoreKeys.checkModelId(modelId);
        if (!Sha256.isHex(sha256)) {
            throw new IllegalArgumentException("a base model's hash is a sha256, got '" + sha256 + "'");
        }
        tensors = Collections.unmodifiableSortedMap(new TreeMap<>(tensors));
        stored = Collections.unmodifiableSortedMap(new TreeMap<>(stored));
        tensors.keySet().forEach(StoreKeys::checkTensorName);
        for (String name : stored.keySet()) {
            if (!tensors.containsKey(name)) {
                throw new IllegalArgumentException("base of " + modelId + " stores " + name + ", which is not one of its tensors");
            }
            if (tensors.get(name).shape().size() != 2) {
                throw new IllegalArgumentException("only 2-D tensors can be edited; " + name + " has shape " + tensors.get(name).shape());
            }
        }
    }

    /** The tensor's shape as [rows, cols]; fails for a tensor the model lacks. */
    public int[] matrixShape(String tensor) {
        TensorInfo info = tensors.get(tensor);
        if (info == null) {
            throw new IllegalArgumentException("model " + modelId + " (base " + sha256 + ") has no tensor named " + tensor);
        }
        if (info.shape().size() != 2) {
            throw new IllegalArgumentException("tensor " + tensor + " of model " + modelId + " has shape " + info.shape() + ", not a matrix");
        }
        return new int[] {Math.toIntExact(info.shape().get(0)), Math.toIntExact(info.shape().get(1))};
    }
}

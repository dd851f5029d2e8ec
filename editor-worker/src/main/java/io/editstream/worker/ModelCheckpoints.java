package io.editstream.worker;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.editstream.checkpoint.BaseModel;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.ModelHead;
import io.editstream.checkpoint.TensorChange;
import io.editstream.edit.LowRankDelta;
import io.editstream.model.LanguageModel;
import io.editstream.tensor.FloatMatrix;
import io.editstream.tensor.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** Where a running model meets the checkpoint store: its base, its edits as tensor changes, a version's weights. */
public final class ModelCheckpoints {

    private ModelCheckpoints() {
    }

    /**
     * Registers the model as the base of {@code modelId}: its weights' hash, every tensor's shape and hash, and the
     * values of the MLP output projections of {@code editLayers}.
     *
     * @param source where the model was loaded from, for exports' {@code base_model_name_or_path}
     */
    public static BaseModel registerBase(CheckpointStore store, String modelId, LanguageModel model, String source, int[] editLayers)
            throws IOException {
        SortedMap<String, BaseModel.TensorInfo> tensors = new TreeMap<>();
        for (Map.Entry<String, NDArray> weight : model.weights().entrySet()) {
            List<Long> shape = Arrays.stream(weight.getValue().getShape().getShape()).boxed().toList();
            tensors.put(weight.getKey(), new BaseModel.TensorInfo(shape, Sha256.of(littleEndian(weight.getValue()))));
        }
        SortedMap<String, FloatMatrix> editable = new TreeMap<>();
        for (int layer : editLayers) {
            String name = model.mlpOutputName(layer);
            editable.put(name, FloatMatrix.of(model.weights().get(name)));
        }
        return store.registerBase(modelId, model.weightsSha256(), source, tensors, editable);
    }

    /** One layer's edit as the change of its stored tensor. */
    public static TensorChange change(LanguageModel model, LowRankDelta delta) {
        return TensorChange.lowRank(delta.a(), delta.b(), model.mlpOutputStoredTransposed());
    }

    /** The edits of a batch as changes by tensor name (several deltas of one layer are composed). */
    public static SortedMap<String, TensorChange> changes(LanguageModel model, List<LowRankDelta> deltas) {
        Map<Integer, List<LowRankDelta>> byLayer = new TreeMap<>();
        for (LowRankDelta delta : deltas) {
            byLayer.computeIfAbsent(delta.layer(), l -> new java.util.ArrayList<>()).add(delta);
        }
        SortedMap<String, TensorChange> changes = new TreeMap<>();
        byLayer.forEach((layer, parts) -> changes.put(model.mlpOutputName(layer), change(model, LowRankDelta.compose(parts))));
        return changes;
    }

    /**
     * Puts the head's edited tensors into the model, so that the model holds exactly the bits the version means
     * (a writer does this after every append: the version, not the editor's own arithmetic, is what continues).
     */
    public static void load(LanguageModel model, ModelHead head, int[] editLayers) throws IOException {
        try (NDManager scope = NDManager.newBaseManager(model.device())) {
            for (int layer : editLayers) {
                String name = model.mlpOutputName(layer);
                NDArray stored = head.tensor(name).toNDArray(scope);
                model.setMlpOutputWeight(layer, model.mlpOutputStoredTransposed() ? stored.transpose() : stored);
            }
        }
    }

    private static byte[] littleEndian(NDArray array) {
        ByteBuffer bytes = array.toByteBuffer().order(ByteOrder.nativeOrder());
        ByteBuffer little = ByteBuffer.allocate(bytes.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        little.asFloatBuffer().put(bytes.asFloatBuffer());
        return little.array();
    }
}

package io.editstream.worker;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.edit.EditHyperparameters;
import java.io.IOException;
import java.util.Optional;

/**
 * What, besides the base and the edit log, decides the bits of a model's chain: the editor, its hyperparameters (in
 * full: a manifest names them only by their sha256), the seed of its context prefixes and the prepare group size. The
 * worker records it under the model's reference {@value #REF} when it opens the model, so an auditor can write the
 * chain again from the log alone ({@link AuditReplay}).
 */
public record RecordedEditor(@JsonProperty("editor") String editor,
                             @JsonProperty("hyperparameters") EditHyperparameters hyperparameters,
                             @JsonProperty("seed") long seed,
                             @JsonProperty("prepare_group_size") int prepareGroupSize) {

    static final String REF = "editor-settings";
    private static final ObjectMapper JSON = new ObjectMapper();

    public RecordedEditor {
        if (editor == null || editor.isBlank() || hyperparameters == null || prepareGroupSize < 1) {
            throw new IllegalArgumentException("a recorded editor needs the editor, its hyperparameters and a prepare group size >= 1");
        }
    }

    static RecordedEditor of(WorkerSettings.ModelSettings settings, EditHyperparameters hyperparameters) {
        return new RecordedEditor(settings.editor(), hyperparameters, settings.seed(), settings.prepareGroupSize());
    }

    /** The sha256 a manifest names these hyperparameters by. */
    String hyperparametersSha256() throws IOException {
        return ModelRuntime.hyperparametersSha256(hyperparameters);
    }

    void record(CheckpointStore store, String modelId) throws IOException {
        store.putRef(modelId, REF, store.putBlob(JSON.writeValueAsBytes(this)));
    }

    /** The recorded editor of a model; empty for a chain written before workers recorded it. */
    static Optional<RecordedEditor> read(CheckpointStore store, String modelId) throws IOException {
        Optional<String> blob = store.ref(modelId, REF);
        if (blob.isEmpty()) {
            return Optional.empty();
        }
        byte[] bytes = store.blob(blob.get(), "model " + modelId + " editor settings");
        try {
            return Optional.of(JSON.readValue(bytes, RecordedEditor.class));
        } catch (IOException | IllegalArgumentException e) {
            throw new IOException("model " + modelId + ": the recorded editor settings (blob " + blob.get() + ") are unreadable: "
                    + e.getMessage(), e);
        }
    }
}

package io.editstream.worker;

import io.editstream.events.CheckpointPublished;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The last committed {@link CheckpointPublished} of each model: the truth about what is applied. Read with
 * read_committed from the start of the checkpoints topic up to its last stable offset, so an event whose transaction
 * aborted, or is still open, never counts.
 */
final class CommittedCheckpoints {

    private CommittedCheckpoints() {
    }

    /**
     * Model id → its highest committed version.
     *
     * @param kafka Kafka client settings (bootstrap servers, security)
     */
    static Map<String, CheckpointPublished> read(Map<String, Object> kafka, SerdeSettings serdes) {
        Map<String, CheckpointPublished> latest = new HashMap<>();
        CommittedLog.read(kafka, serdes, Topics.CHECKPOINTS, CheckpointPublished.class, checkpoint -> latest.merge(checkpoint.getModelId(),
                checkpoint, (known, next) -> next.getVersion() > known.getVersion() ? next : known));
        return latest;
    }

    static Optional<CheckpointPublished> of(Map<String, CheckpointPublished> latest, String modelId) {
        return Optional.ofNullable(latest.get(modelId));
    }
}

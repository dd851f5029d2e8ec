package io.editstream.events;

import java.util.List;

/** The topic names of editstream, in one place. */
public final class Topics {
    /** Correction events from hallucination detectors ({@code CorrectionEvent}, key: model id). */
    public static final String CORRECTIONS = "editstream.corrections";
    /** Refused corrections ({@code DeadLetter}: reason and original bytes, key: the original key bytes). */
    public static final String CORRECTIONS_DLQ = "editstream.corrections.dlq";
    /** Ordered, gap-free batches of edits per model ({@code EditBatch}, key: model id). */
    public static final String EDIT_REQUESTS = "editstream.edit-requests";
    /** Published model versions ({@code CheckpointPublished}, key: model id). */
    public static final String CHECKPOINTS = "editstream.checkpoints";
    /** Per-edit and per-checkpoint measurements ({@code EditEvaluation}, key: model id). */
    public static final String EVALUATIONS = "editstream.evaluations";

    private Topics() {
    }

    public static List<String> all() {
        return List.of(CORRECTIONS, CORRECTIONS_DLQ, EDIT_REQUESTS, CHECKPOINTS, EVALUATIONS);
    }
}

package io.editstream.streams;

import io.editstream.events.DeadLetter;
import io.editstream.events.EditRequest;

/** The outcome of decoding and validating one raw correction record. */
sealed interface Checked {

    /**
     * A valid correction, already normalised into the edit it asks for (sequence not yet assigned).
     *
     * @param onModelPartition whether it was read from the partition its model id hashes to (murmur2, as Kafka's
     *                         default partitioner and the topology's repartition topic place it)
     */
    record Valid(String modelId, EditRequest request, boolean onModelPartition) implements Checked {
    }

    /** A refused record, ready for the dead-letter topic. */
    record Refused(DeadLetter deadLetter) implements Checked {
    }
}

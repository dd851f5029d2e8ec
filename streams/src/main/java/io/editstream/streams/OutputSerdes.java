package io.editstream.streams;

import java.time.Instant;
import java.util.List;

import org.apache.kafka.common.serialization.Serde;

import io.editstream.events.DeadLetter;
import io.editstream.events.DeadLetterReason;
import io.editstream.events.EditBatch;
import io.editstream.events.SerdeSettings;

/** The serdes the topology writes its output topics with, one instance each for all tasks. */
record OutputSerdes(Serde<DeadLetter> deadLetters, Serde<EditBatch> editBatches) {

    static OutputSerdes of(SerdeSettings serdes) {
        return new OutputSerdes(serdes.valueSerde(DeadLetter.class), serdes.valueSerde(EditBatch.class));
    }

    /**
     * Serialises one sample of each output, so that the schemas are registered and their ids cached by the very
     * serializers the topology uses: from then on writing needs no registry, and an outage cannot fail a write.
     *
     * @throws RuntimeException from the serializer, when the registry cannot be reached or refuses the schemas
     */
    void resolveSchemas(TopologySettings settings) {
        deadLetters.serializer().serialize(settings.deadLetterTopic(), DeadLetter.newBuilder()
                .setReason(DeadLetterReason.OTHER).setMessage("schema check").setSourceTopic("")
                .setSourcePartition(-1).setSourceOffset(-1).setRefusedAt(Instant.EPOCH).build());
        editBatches.serializer().serialize(settings.editRequestsTopic(), EditBatch.newBuilder()
                .setModelId("").setFirstSequence(0).setLastSequence(0).setEdits(List.of())
                .setCreatedAt(Instant.EPOCH).build());
    }
}

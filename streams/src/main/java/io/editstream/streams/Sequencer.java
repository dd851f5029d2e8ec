package io.editstream.streams;

import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Step 4b: numbers each model's edits 1, 2, 3, ... in the order they leave the reorder buffer. The last number is
 * kept in a changelogged store and committed atomically with the output (exactly-once), so numbering continues
 * without gaps or repeats across restarts and failovers.
 */
final class Sequencer implements Processor<String, PendingEdit, String, PendingEdit> {
    private ProcessorContext<String, PendingEdit> context;
    private KeyValueStore<String, Long> sequences;

    @Override
    public void init(ProcessorContext<String, PendingEdit> context) {
        this.context = context;
        this.sequences = context.getStateStore(CorrectionsTopology.SEQUENCES_STORE);
    }

    @Override
    public void process(Record<String, PendingEdit> record) {
        Long last = sequences.get(record.key());
        long next = (last == null ? 0 : last) + 1;
        sequences.put(record.key(), next);
        record.value().request().setSequence(next);
        context.forward(record);
    }
}

package io.editstream.streams;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

import io.editstream.corrections.EncodedSize;
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import io.editstream.events.Supersession;

/**
 * Step 5: groups each model's sequenced edits into batches of up to N edits, closing a batch that has not filled
 * up once its first edit has waited the linger time (wall-clock punctuation), or before an edit would take its
 * encoded size past the byte budget. The open batch lives in a
 * changelogged store, its created_at holding the time it was opened until it is closed.
 */
final class Batcher implements Processor<String, PendingEdit, String, EditBatch> {
    private final TopologySettings settings;
    private ProcessorContext<String, EditBatch> context;
    private KeyValueStore<String, EditBatch> openBatches;

    Batcher(TopologySettings settings) {
        this.settings = settings;
    }

    @Override
    public void init(ProcessorContext<String, EditBatch> context) {
        this.context = context;
        this.openBatches = context.getStateStore(CorrectionsTopology.OPEN_BATCHES_STORE);
        context.schedule(settings.punctuateInterval(), PunctuationType.WALL_CLOCK_TIME, this::closeLingering);
    }

    @Override
    public void process(Record<String, PendingEdit> record) {
        String model = record.key();
        EditRequest edit = record.value().request();
        long now = context.currentSystemTimeMs();
        EditBatch batch = openBatches.get(model);
        if (batch != null && bytes(batch) + bytes(record.value()) > settings.batchMaxBytes()) {
            // Closed before the edit would take it past the byte budget: every batch (and its changelog record)
            // stays under the record size limit, whatever the edit count.
            openBatches.delete(model);
            emit(batch, now);
            batch = null;
        }
        boolean stored = batch != null;
        if (!stored) {
            batch = EditBatch.newBuilder()
                    .setModelId(model)
                    .setFirstSequence(edit.getSequence())
                    .setLastSequence(edit.getSequence())
                    .setEdits(new ArrayList<>())
                    .setSuperseded(new ArrayList<>())
                    .setCreatedAt(Instant.ofEpochMilli(now))
                    .build();
        }
        List<EditRequest> edits = new ArrayList<>(batch.getEdits());
        edits.add(edit);
        List<Supersession> superseded = new ArrayList<>(batch.getSuperseded());
        superseded.addAll(record.value().superseded());
        batch.setEdits(edits);
        batch.setSuperseded(superseded);
        batch.setLastSequence(edit.getSequence());
        if (edits.size() >= settings.batchMaxEdits() || settings.batchLinger().isZero()) {
            if (stored) {
                openBatches.delete(model);
            }
            emit(batch, now);
        } else {
            openBatches.put(model, batch);
        }
    }

    /** An upper bound of the batch's encoded size. */
    private static long bytes(EditBatch batch) {
        long size = EncodedSize.FIXED_BATCH_FIELDS + EncodedSize.utf8Length(batch.getModelId());
        for (EditRequest edit : batch.getEdits()) {
            size += EncodedSize.of(edit);
        }
        for (Supersession s : batch.getSuperseded()) {
            size += EncodedSize.of(s);
        }
        return size;
    }

    /** An upper bound of what the edit adds to a batch, with the corrections it superseded. */
    private static long bytes(PendingEdit edit) {
        long size = EncodedSize.of(edit.request());
        for (Supersession s : edit.superseded()) {
            size += EncodedSize.of(s);
        }
        return size;
    }

    private void closeLingering(long now) {
        List<KeyValue<String, EditBatch>> due = new ArrayList<>();
        try (KeyValueIterator<String, EditBatch> it = openBatches.all()) {
            it.forEachRemaining(entry -> {
                if (now - entry.value.getCreatedAt().toEpochMilli() >= settings.batchLinger().toMillis()) {
                    due.add(entry);
                }
            });
        }
        for (KeyValue<String, EditBatch> entry : due) {
            openBatches.delete(entry.key);
            emit(entry.value, now);
        }
    }

    private void emit(EditBatch batch, long now) {
        batch.setCreatedAt(Instant.ofEpochMilli(now));
        context.forward(new Record<>(batch.getModelId(), batch, now));
    }
}

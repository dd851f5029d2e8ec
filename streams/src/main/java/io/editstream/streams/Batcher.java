package io.editstream.streams;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
 * encoded size past the byte budget. The open batch lives in a changelogged store, its created_at holding the time
 * it was opened until it is closed; a copy in memory is what edits are appended to and what the punctuation scans,
 * so an edit costs one encoding of its open batch (the store write) and no decoding.
 */
final class Batcher implements Processor<String, PendingEdit, String, EditBatch> {
    private final TopologySettings settings;
    private ProcessorContext<String, EditBatch> context;
    private KeyValueStore<String, EditBatch> openBatches;
    /** The open batches store's content, each with an upper bound of its encoded size. */
    private final Map<String, Open> open = new HashMap<>();

    /** An open batch and an upper bound of its encoded size. */
    private static final class Open {
        final EditBatch batch;
        long bytes;

        Open(EditBatch batch) {
            this.batch = batch;
            this.bytes = EncodedSize.FIXED_BATCH_FIELDS + EncodedSize.utf8Length(batch.getModelId());
        }
    }

    Batcher(TopologySettings settings) {
        this.settings = settings;
    }

    @Override
    public void init(ProcessorContext<String, EditBatch> context) {
        this.context = context;
        this.openBatches = context.getStateStore(CorrectionsTopology.OPEN_BATCHES_STORE);
        open.clear(); // init runs again when a suspended task resumes
        try (KeyValueIterator<String, EditBatch> all = openBatches.all()) {
            all.forEachRemaining(entry -> {
                EditBatch stored = entry.value;
                Open restored = new Open(EditBatch.newBuilder(stored).setEdits(new ArrayList<>())
                        .setSuperseded(new ArrayList<>()).build());
                stored.getEdits().forEach(edit -> add(restored, edit, List.of()));
                add(restored, null, stored.getSuperseded());
                open.put(entry.key, restored);
            });
        }
        context.schedule(settings.punctuateInterval(), PunctuationType.WALL_CLOCK_TIME, this::closeLingering);
    }

    @Override
    public void process(Record<String, PendingEdit> record) {
        String model = record.key();
        EditRequest edit = record.value().request();
        long now = context.currentSystemTimeMs();
        Open batch = open.get(model);
        if (batch != null && batch.bytes + bytes(record.value()) > settings.batchMaxBytes()) {
            // Closed before the edit would take it past the byte budget: every batch (and its changelog record)
            // stays under the record size limit, whatever the edit count.
            close(model, batch, now);
            batch = null;
        }
        if (batch == null) {
            batch = new Open(EditBatch.newBuilder()
                    .setModelId(model)
                    .setFirstSequence(edit.getSequence())
                    .setLastSequence(edit.getSequence())
                    .setEdits(new ArrayList<>())
                    .setSuperseded(new ArrayList<>())
                    .setCreatedAt(Instant.ofEpochMilli(now))
                    .build());
        }
        add(batch, edit, record.value().superseded());
        if (batch.batch.getEdits().size() >= settings.batchMaxEdits() || settings.batchLinger().isZero()) {
            close(model, batch, now);
        } else {
            openBatches.put(model, batch.batch);
            open.put(model, batch);
        }
    }

    private static void add(Open batch, EditRequest edit, List<Supersession> superseded) {
        if (edit != null) {
            batch.batch.getEdits().add(edit);
            batch.batch.setLastSequence(edit.getSequence());
            batch.bytes += EncodedSize.of(edit);
        }
        for (Supersession s : superseded) {
            batch.batch.getSuperseded().add(s);
            batch.bytes += EncodedSize.of(s);
        }
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
        List<Map.Entry<String, Open>> due = open.entrySet().stream()
                .filter(e -> now - e.getValue().batch.getCreatedAt().toEpochMilli()
                        >= settings.batchLinger().toMillis())
                .map(e -> Map.entry(e.getKey(), e.getValue()))
                .toList();
        for (Map.Entry<String, Open> entry : due) {
            close(entry.getKey(), entry.getValue(), now);
        }
    }

    private void close(String model, Open batch, long now) {
        if (open.remove(model) != null) {
            openBatches.put(model, null); // a delete that does not read (and decode) the old value
        }
        batch.batch.setCreatedAt(Instant.ofEpochMilli(now));
        context.forward(new Record<>(model, batch.batch, now));
    }
}

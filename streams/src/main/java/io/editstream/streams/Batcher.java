package io.editstream.streams;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

import io.editstream.corrections.EncodedSize;
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;

/**
 * Step 5: groups each model's sequenced edits into batches of up to N edits, closing a batch that has not filled
 * up once its first edit has waited the linger time (wall-clock punctuation), or before an edit would take its
 * encoded size past the byte budget.
 *
 * <p>An open batch lives in a changelogged store as one entry per edit (keyed by model and sequence number, each
 * with the time its batch was opened), so an edit costs the encoding of itself only, and a batch's entries are
 * deleted when it closes; a copy in memory is what edits are appended to and what the punctuation scans. A
 * restarted task rebuilds its open batches from the entries.
 *
 * <p>Upgrade: an earlier version stored each open batch whole, re-encoded for every edit (the legacy store, still
 * in the topology for this). Batches found there are closed as they stand at the task's first record or
 * punctuation, before any new edit of their model, so they are emitted early rather than extended.
 */
final class Batcher implements Processor<String, PendingEdit, String, EditBatch> {
    private final TopologySettings settings;
    private ProcessorContext<String, EditBatch> context;
    private KeyValueStore<Bytes, Entry> openEdits;
    private KeyValueStore<String, EditBatch> legacyBatches;
    /** The open batches, as the store's entries make them up. */
    private final Map<String, Open> open = new HashMap<>();
    private boolean upgraded;

    /** A stored edit of an open batch: the time its batch was opened, and the edit with what it superseded. */
    record Entry(long batchOpenedAt, PendingEdit edit) {
        static Serde<Entry> serde() {
            Serde<PendingEdit> edits = PendingEdit.serde();
            return Serdes.serdeFrom(
                    (topic, entry) -> {
                        if (entry == null) {
                            return null;
                        }
                        byte[] edit = edits.serializer().serialize(topic, entry.edit);
                        return ByteBuffer.allocate(Long.BYTES + edit.length).putLong(entry.batchOpenedAt).put(edit)
                                .array();
                    },
                    (topic, bytes) -> bytes == null ? null : new Entry(ByteBuffer.wrap(bytes).getLong(),
                            edits.deserializer().deserialize(topic,
                                    Arrays.copyOfRange(bytes, Long.BYTES, bytes.length))));
        }
    }

    /** An open batch, an upper bound of its encoded size, and how many of its edits are in the store. */
    private static final class Open {
        final EditBatch batch;
        long bytes;
        int stored;

        Open(String model, long sequence, long openedAt) {
            this.batch = EditBatch.newBuilder()
                    .setModelId(model)
                    .setFirstSequence(sequence)
                    .setLastSequence(sequence)
                    .setEdits(new ArrayList<>())
                    .setSuperseded(new ArrayList<>())
                    .setCreatedAt(Instant.ofEpochMilli(openedAt))
                    .build();
            this.bytes = EncodedSize.FIXED_BATCH_FIELDS + EncodedSize.utf8Length(model);
        }

        void add(PendingEdit edit) {
            batch.getEdits().add(edit.request());
            batch.setLastSequence(edit.request().getSequence());
            batch.getSuperseded().addAll(edit.superseded());
            bytes += Batcher.bytes(edit);
        }
    }

    Batcher(TopologySettings settings) {
        this.settings = settings;
    }

    @Override
    public void init(ProcessorContext<String, EditBatch> context) {
        this.context = context;
        this.openEdits = context.getStateStore(CorrectionsTopology.OPEN_BATCH_EDITS_STORE);
        this.legacyBatches = context.getStateStore(CorrectionsTopology.LEGACY_OPEN_BATCHES_STORE);
        open.clear(); // init runs again when a suspended task resumes
        try (KeyValueIterator<Bytes, Entry> all = openEdits.all()) { // by model, then sequence number
            all.forEachRemaining(stored -> {
                EditRequest edit = stored.value.edit().request();
                Open batch = open.computeIfAbsent(BufferKey.modelOf(stored.key),
                        model -> new Open(model, edit.getSequence(), stored.value.batchOpenedAt()));
                batch.add(stored.value.edit());
                batch.stored++;
            });
        }
        upgraded = false; // stores cannot be written before a record or punctuation (no record context)
        context.schedule(settings.punctuateInterval(), PunctuationType.WALL_CLOCK_TIME, this::closeLingering);
    }

    @Override
    public void process(Record<String, PendingEdit> record) {
        long now = context.currentSystemTimeMs();
        if (!upgraded) {
            closeLegacy(now);
        }
        String model = record.key();
        EditRequest edit = record.value().request();
        Open batch = open.get(model);
        if (batch != null && batch.bytes + bytes(record.value()) > settings.batchMaxBytes()) {
            // Closed before the edit would take it past the byte budget: every batch stays under the record size
            // limit, whatever the edit count.
            close(model, batch, now);
            batch = null;
        }
        if (batch == null) {
            batch = new Open(model, edit.getSequence(), now);
        }
        batch.add(record.value());
        if (batch.batch.getEdits().size() >= settings.batchMaxEdits() || settings.batchLinger().isZero()) {
            close(model, batch, now);
        } else {
            openEdits.put(key(model, edit), new Entry(batch.batch.getCreatedAt().toEpochMilli(), record.value()));
            batch.stored++;
            open.put(model, batch);
        }
    }

    /** An upper bound of what the edit adds to a batch, with the corrections it superseded. */
    private static long bytes(PendingEdit edit) {
        return EncodedSize.of(edit.request()) + edit.supersededBytes();
    }

    private void closeLingering(long now) {
        if (!upgraded) {
            closeLegacy(now);
        }
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
        open.remove(model);
        List<EditRequest> edits = batch.batch.getEdits();
        for (int i = 0; i < batch.stored; i++) {
            openEdits.put(key(model, edits.get(i)), null); // a delete that does not read (and decode) the old value
        }
        batch.batch.setCreatedAt(Instant.ofEpochMilli(now));
        context.forward(new Record<>(model, batch.batch, now));
    }

    private void closeLegacy(long now) {
        try (KeyValueIterator<String, EditBatch> all = legacyBatches.all()) {
            all.forEachRemaining(stored -> {
                legacyBatches.put(stored.key, null);
                stored.value.setCreatedAt(Instant.ofEpochMilli(now));
                context.forward(new Record<>(stored.key, stored.value, now));
            });
        }
        upgraded = true;
    }

    private static Bytes key(String model, EditRequest edit) {
        return BufferKey.of(model, edit.getSequence(), "");
    }
}

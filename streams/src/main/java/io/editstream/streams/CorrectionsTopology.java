package io.editstream.streams;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.Stores;

import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import io.editstream.events.SerdeSettings;

/**
 * The corrections → edit-requests topology (DESIGN.md, "Streams topology"), exactly-once:
 * <ol>
 * <li>{@link DecodeAndValidate}: raw bytes in (so the DLQ keeps them as they were), the shared validation rules,
 * key = model id; refusals go to the dead-letter topic with a reason. Records wait (parked) while the schema
 * registry cannot be reached.
 * <li>A correction read from a partition other than the one its model id hashes to is moved there (repartition
 * topic), so that each model's state lives in one task whatever partitioner the producer used.
 * <li>{@link Deduplicator}: a repeated correction id, or a correction asking for the target its fact already has,
 * is dropped and counted ({@link PipelineMetrics}).
 * <li>{@link ReorderBuffer}: held for the grace period, released in event-time order per model; a later-timed
 * correction of the same fact supersedes a held one; a late one is sequenced on arrival, flagged.
 * <li>{@link Sequencer}: gap-free sequence numbers per model.
 * <li>{@link Batcher}: up to N edits or T milliseconds per batch, keyed by model id.
 * </ol>
 *
 * <p>Every per-model state (order, sequence numbers, open batch) must live in exactly one task. Keying corrections by
 * model id puts a model's corrections on one partition only for producers using Kafka's default (murmur2)
 * partitioner and only while the partition count stays the same; a detector on librdkafka's default (CRC32) would
 * get a model sequenced in two tasks, each from 1. So a valid correction read from another partition than the one
 * its model id hashes to (murmur2) is moved there through an internal topic, read by the same tasks (it is
 * co-partitioned with the corrections topic) before anything per-model happens; corrections from producers with the
 * default partitioner, the usual case, stay where they are and cost no extra round trip. Adding partitions to the
 * corrections topic later makes the internal topic's partition count disagree, and the application fails to start
 * rather than move models between tasks. A record whose key is not its model id is still refused, as the contract
 * of the corrections topic.
 */
public final class CorrectionsTopology {
    static final String DEDUP_IDS_STORE = "dedup-ids";
    static final String DEDUP_FACTS_STORE = "dedup-facts";
    static final String DEDUP_CLOCKS_STORE = "dedup-clocks";
    /** The dedup memories as an earlier version kept them; emptied into the ones above by the first record. */
    static final String LEGACY_CORRECTION_IDS_STORE = "correction-ids";
    static final String LEGACY_FACT_TARGETS_STORE = "fact-targets";
    static final String REORDER_BUFFER_STORE = "reorder-buffer";
    static final String MODEL_CLOCKS_STORE = "model-clocks";
    static final String SEQUENCES_STORE = "sequences";
    static final String OPEN_BATCH_EDITS_STORE = "open-batch-edits";
    /** Open batches as an earlier version kept them (whole); closed by the first record or punctuation. */
    static final String LEGACY_OPEN_BATCHES_STORE = "open-batches";
    static final String REGISTRY_WAITS_STORE = "registry-waits";
    static final String BY_MODEL_TOPIC = "by-model";

    private CorrectionsTopology() {
    }

    /**
     * @param partitions partitions of the corrections topic: which partition each model id hashes to decides which
     *                   corrections are repartitioned
     */
    public static Topology build(TopologySettings settings, SerdeSettings serdes, int partitions) {
        return build(settings, serdes, OutputSerdes.of(serdes), partitions);
    }

    /** The topology writing through the given serdes (which {@link CorrectionsApp} resolves before it starts). */
    static Topology build(TopologySettings settings, SerdeSettings serdes, OutputSerdes outputs, int partitions) {
        StreamsBuilder builder = new StreamsBuilder();
        addStores(builder, settings);
        InputActivity activity = new InputActivity();

        Map<String, KStream<byte[], Checked>> checked = builder
                .stream(settings.correctionsTopic(), Consumed.with(Serdes.ByteArray(), Serdes.ByteArray())
                        .withName("corrections"))
                .process(() -> new DecodeAndValidate(settings, serdes, activity, partitions),
                        Named.as("decode-and-validate"),
                        REGISTRY_WAITS_STORE)
                .split(Named.as("checked-"))
                .branch((key, value) -> value instanceof Checked.Refused, Branched.as("refused"))
                .defaultBranch(Branched.as("valid"));

        checked.get("checked-refused")
                .mapValues(value -> ((Checked.Refused) value).deadLetter(), Named.as("dead-letter"))
                .to(settings.deadLetterTopic(), Produced.with(Serdes.ByteArray(), outputs.deadLetters())
                        .withName("dlq"));

        Map<String, KStream<String, Checked.Valid>> placed = checked.get("checked-valid")
                .map((key, value) -> KeyValue.pair(((Checked.Valid) value).modelId(), (Checked.Valid) value),
                        Named.as("by-model"))
                .split(Named.as("placed-"))
                .branch((model, valid) -> valid.onModelPartition(), Branched.as("on-model-partition"))
                .defaultBranch(Branched.as("elsewhere"));

        KStream<String, EditRequest> moved = placed.get("placed-elsewhere")
                .mapValues(Checked.Valid::request, Named.as("to-move"))
                .repartition(Repartitioned.<String, EditRequest>as(BY_MODEL_TOPIC)
                        .withKeySerde(Serdes.String())
                        .withValueSerde(SpecificRecordSerde.of(EditRequest.class)));

        placed.get("placed-on-model-partition")
                .mapValues(Checked.Valid::request, Named.as("in-place"))
                .merge(moved, Named.as("each-model-in-one-task"))
                .process(() -> new Deduplicator(settings), Named.as("dedup"),
                        DEDUP_IDS_STORE, DEDUP_FACTS_STORE, DEDUP_CLOCKS_STORE,
                        LEGACY_CORRECTION_IDS_STORE, LEGACY_FACT_TARGETS_STORE)
                .process(() -> new ReorderBuffer(settings, activity), Named.as("reorder-and-supersede"),
                        REORDER_BUFFER_STORE, MODEL_CLOCKS_STORE)
                .process(Sequencer::new, Named.as("sequence"), SEQUENCES_STORE)
                .process(() -> new Batcher(settings), Named.as("batch"), OPEN_BATCH_EDITS_STORE,
                        LEGACY_OPEN_BATCHES_STORE)
                .to(settings.editRequestsTopic(), Produced.with(Serdes.String(), outputs.editBatches())
                        .withName("edit-requests"));

        return builder.build();
    }

    /**
     * All changelogged, and persistent (RocksDB) but for the dedup clocks. Dedup memories are window stores of time buckets whose old
     * segments expire after the retention window ({@link DedupMemory}); the reorder buffer holds only what waits for
     * the grace period; the rest is one entry per model. Stores written once per record per model are cached, so a
     * commit writes a model's latest value to the changelog once instead of once per record.
     */
    private static void addStores(StreamsBuilder builder, TopologySettings settings) {
        Duration retention = settings.dedupRetention();
        for (String memory : List.of(DEDUP_IDS_STORE, DEDUP_FACTS_STORE)) {
            builder.addStateStore(Stores.windowStoreBuilder(
                    Stores.persistentWindowStore(memory, retention.multipliedBy(DedupMemory.STORE_RETENTION_BUCKETS),
                            retention, false),
                    Serdes.String(), DedupMemory.Entry.serde()));
        }
        // Two entries per task, written every commit: in memory (restored from its changelog), so that a commit
        // does not flush one more RocksDB instance for them.
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.inMemoryKeyValueStore(DEDUP_CLOCKS_STORE), Serdes.String(), Serdes.Long())
                .withCachingEnabled());
        builder.addStateStore(Stores.windowStoreBuilder(
                Stores.persistentWindowStore(LEGACY_CORRECTION_IDS_STORE, retention, retention, false),
                Serdes.String(), Serdes.Long()));
        builder.addStateStore(Stores.windowStoreBuilder(
                Stores.persistentWindowStore(LEGACY_FACT_TARGETS_STORE, retention, retention, false),
                Serdes.String(), Serdes.String()));
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(REGISTRY_WAITS_STORE), Serdes.Long(), ParkedRecord.serde()));
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(REORDER_BUFFER_STORE), Serdes.Bytes(), PendingEdit.serde()));
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(MODEL_CLOCKS_STORE), Serdes.String(), ModelClock.serde())
                .withCachingEnabled());
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(SEQUENCES_STORE), Serdes.String(), Serdes.Long())
                .withCachingEnabled());
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(OPEN_BATCH_EDITS_STORE), Serdes.Bytes(), Batcher.Entry.serde())
                .withCachingEnabled());
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(LEGACY_OPEN_BATCHES_STORE), Serdes.String(),
                SpecificRecordSerde.of(EditBatch.class)));
    }
}

package io.editstream.streams;

import org.apache.kafka.common.metrics.Sensor;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.editstream.events.EditRequest;

/**
 * Step 2: drops a correction whose id was seen before (a producer retry), and one that asks for the target its fact
 * already has (a semantic duplicate: another detector, or the same one again, reporting the same fix).
 *
 * <p>"Already has" means: the latest (by event time) accepted correction of the same (model, subject, prompt
 * template) within the retention window asked for the same target_new. Comparing with the latest rather than with
 * any earlier correction matters when a fact flips back: X, then Y, then X again is three real edits. Both
 * memories are {@link DedupMemory}s: a point lookup or two per correction, retention bounded by event time.
 *
 * <p>Upgrade: an earlier version kept both memories in window stores keyed by event time (the legacy stores, still
 * in the topology for this). The first record a task processes moves what they hold into the new memories.
 */
final class Deduplicator implements Processor<String, EditRequest, String, EditRequest> {
    private static final Logger log = LoggerFactory.getLogger(Deduplicator.class);

    private final TopologySettings settings;
    private ProcessorContext<String, EditRequest> context;
    private DedupMemory correctionIds;
    private DedupMemory factTargets;
    private boolean upgraded;
    private Sensor exactDuplicates;
    private Sensor semanticDuplicates;

    Deduplicator(TopologySettings settings) {
        this.settings = settings;
    }

    @Override
    public void init(ProcessorContext<String, EditRequest> context) {
        this.context = context;
        KeyValueStore<String, Long> clocks = context.getStateStore(CorrectionsTopology.DEDUP_CLOCKS_STORE);
        long retention = settings.dedupRetention().toMillis();
        this.correctionIds = new DedupMemory(CorrectionsTopology.DEDUP_IDS_STORE,
                context.getStateStore(CorrectionsTopology.DEDUP_IDS_STORE), clocks, retention);
        this.factTargets = new DedupMemory(CorrectionsTopology.DEDUP_FACTS_STORE,
                context.getStateStore(CorrectionsTopology.DEDUP_FACTS_STORE), clocks, retention);
        this.upgraded = false; // stores cannot be written before a record is processed (no record context)
        this.exactDuplicates = PipelineMetrics.counter(context, PipelineMetrics.EXACT_DUPLICATES);
        this.semanticDuplicates = PipelineMetrics.counter(context, PipelineMetrics.SEMANTIC_DUPLICATES);
    }

    @Override
    public void process(Record<String, EditRequest> record) {
        if (!upgraded) {
            upgradeLegacyStores();
        }
        EditRequest request = record.value();
        long at = request.getDetectedAt().toEpochMilli();
        String id = request.getCorrectionId();
        if (correctionIds.latest(id, at) != null) {
            exactDuplicates.record();
            log.debug("dropped correction {} of model {}: its id was seen before", id, record.key());
            return;
        }
        correctionIds.remember(id, at, "");

        String fact = Fact.of(record.key(), request).key();
        DedupMemory.Entry latest = factTargets.latest(fact, at);
        if (latest != null && latest.value().equals(request.getTargetNew())) {
            semanticDuplicates.record();
            log.debug("dropped correction {} of model {}: its fact already has target '{}'", id, record.key(),
                    latest.value());
            return;
        }
        factTargets.remember(fact, at, request.getTargetNew());
        context.forward(record);
    }

    private void upgradeLegacyStores() {
        WindowStore<String, Long> legacyIds = context.getStateStore(CorrectionsTopology.LEGACY_CORRECTION_IDS_STORE);
        WindowStore<String, String> legacyFacts = context.getStateStore(CorrectionsTopology.LEGACY_FACT_TARGETS_STORE);
        long ids = correctionIds.upgradeFrom(legacyIds, at -> "");
        long facts = factTargets.upgradeFrom(legacyFacts, target -> target);
        if (ids + facts > 0) {
            log.info("task {}: moved {} correction ids and {} fact targets from the earlier dedup stores",
                    context.taskId(), ids, facts);
        }
        upgraded = true;
    }
}

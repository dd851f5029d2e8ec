package io.editstream.streams;

import org.apache.kafka.common.metrics.Sensor;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.state.WindowStoreIterator;
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
 * memories are window stores keyed by event time, so their retention is bounded: segments older than the retention
 * window (behind the latest event time seen) are dropped.
 */
final class Deduplicator implements Processor<String, EditRequest, String, EditRequest> {
    private static final Logger log = LoggerFactory.getLogger(Deduplicator.class);

    private final TopologySettings settings;
    private ProcessorContext<String, EditRequest> context;
    private WindowStore<String, Long> correctionIds;
    private WindowStore<String, String> factTargets;
    private Sensor exactDuplicates;
    private Sensor semanticDuplicates;

    Deduplicator(TopologySettings settings) {
        this.settings = settings;
    }

    @Override
    public void init(ProcessorContext<String, EditRequest> context) {
        this.context = context;
        this.correctionIds = context.getStateStore(CorrectionsTopology.CORRECTION_IDS_STORE);
        this.factTargets = context.getStateStore(CorrectionsTopology.FACT_TARGETS_STORE);
        this.exactDuplicates = PipelineMetrics.counter(context, PipelineMetrics.EXACT_DUPLICATES);
        this.semanticDuplicates = PipelineMetrics.counter(context, PipelineMetrics.SEMANTIC_DUPLICATES);
    }

    @Override
    public void process(Record<String, EditRequest> record) {
        EditRequest request = record.value();
        long at = request.getDetectedAt().toEpochMilli();
        long from = at - settings.dedupRetention().toMillis();
        long to = at + settings.dedupRetention().toMillis();
        String id = request.getCorrectionId();
        try (WindowStoreIterator<Long> seen = correctionIds.fetch(id, from, to)) {
            if (seen.hasNext()) {
                exactDuplicates.record();
                log.debug("dropped correction {} of model {}: its id was seen before", id, record.key());
                return;
            }
        }
        correctionIds.put(id, at, at);

        String fact = Fact.of(record.key(), request).key();
        String latestTarget = null;
        try (WindowStoreIterator<String> versions = factTargets.fetch(fact, from, to)) {
            while (versions.hasNext()) {
                KeyValue<Long, String> version = versions.next();
                latestTarget = version.value; // ascending time: the last one is the latest
            }
        }
        if (request.getTargetNew().equals(latestTarget)) {
            semanticDuplicates.record();
            log.debug("dropped correction {} of model {}: its fact already has target '{}'", id, record.key(),
                    latestTarget);
            return;
        }
        factTargets.put(fact, request.getTargetNew(), at);
        context.forward(record);
    }
}

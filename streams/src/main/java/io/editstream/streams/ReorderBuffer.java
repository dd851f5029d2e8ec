package io.editstream.streams;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

import org.apache.kafka.common.metrics.Sensor;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.editstream.events.EditRequest;
import io.editstream.events.Supersession;

/**
 * Steps 3 and 4a: holds each model's corrections for the grace period and releases them in event-time order
 * (ties by correction id); while held, a correction of the same fact with a different target supersedes it when it
 * has the later event time, and the loser is reported with the winner.
 *
 * <p>When is a held correction released? Its model's clock (the latest event time seen for the model) is a grace
 * period past it; or, for a model that went quiet while others on its partition keep flowing, the partition's clock
 * (the latest event time of any model in this task) is two grace periods past it, so clock skew between detectors
 * of up to a grace period costs nothing; or, when the partition's input stops altogether, both clocks run on with
 * the wall clock (a punctuation) and the tail is released about a grace period after the last arrival. Idle time is
 * taken over the whole partition, and only counts over check intervals in which the stream thread processed no
 * input at all ({@link InputActivity}): a consumer that lags, a processing stall or a restart is not silence in the
 * log, and counting it as such would release corrections ahead of earlier-timed ones still waiting in the topic.
 *
 * <p>What a held correction carries about the corrections it superseded is bounded in bytes
 * ({@link TopologySettings#supersessionsMaxBytes()}): a fact that flips more often within the grace period than
 * that allows (a detector in a loop, or a hostile one) has its model's held corrections released at once up to and
 * including the current winner, in order, with the supersessions gathered so far; the next correction of the fact
 * starts afresh. So the reorder buffer's changelog records and the edit's batch stay under the record size limit,
 * nothing is dropped, and the only cost is that a correction of the model timed before the winner that arrives
 * later is late (sequenced on arrival, flagged). Counted as {@value PipelineMetrics#EARLY_RELEASES} and logged.
 *
 * <p>Late corrections (timed before something already released) cannot be put in order any more. They are never
 * dropped: one that conflicts with a pending correction of its fact is decided by event time like any other,
 * otherwise it is released at once, flagged {@code late}, counted and logged. A late correction is applied even when
 * a later-timed correction of the same fact was already sequenced; the flag and detected_at let the editor see it.
 */
final class ReorderBuffer implements Processor<String, EditRequest, String, PendingEdit> {
    private static final Logger log = LoggerFactory.getLogger(ReorderBuffer.class);

    private final TopologySettings settings;
    private final InputActivity activity;
    private ProcessorContext<String, PendingEdit> context;
    private KeyValueStore<Bytes, PendingEdit> buffer;
    /**
     * Fact key → buffer key of the correction held for that fact. Derived from the buffer (rebuilt from it on start),
     * so it needs no store or changelog of its own.
     */
    private final Map<String, Bytes> pendingFacts = new HashMap<>();
    /**
     * What the buffer store holds, in key order: the store is the durable (changelogged) copy, this one is read.
     * Releasing then costs no RocksDB iterator and no decoding per correction; it holds a grace period of input.
     */
    private final NavigableMap<Bytes, PendingEdit> held = new TreeMap<>();
    private KeyValueStore<String, ModelClock> clocks;
    /** The clocks store's content (read per correction, scanned per punctuation); the store is the durable copy. */
    private final Map<String, ModelClock> clockByModel = new HashMap<>();
    private Sensor superseded;
    private Sensor late;
    private Sensor earlyReleases;
    /** The partition's clock: the latest event time of any model in this task (derived from the model clocks). */
    private long partitionClock;
    /** Whether this partition had input since the last wall-clock check. */
    private boolean inputSinceCheck;
    /** Wall-clock time of the last check, and the thread's input count then. */
    private long lastCheck;
    private long threadProcessedAtLastCheck;
    /** How long this partition has been silent, counting only intervals in which its whole thread was idle. */
    private long idle;

    ReorderBuffer(TopologySettings settings, InputActivity activity) {
        this.settings = settings;
        this.activity = activity;
    }

    @Override
    public void init(ProcessorContext<String, PendingEdit> context) {
        this.context = context;
        this.buffer = context.getStateStore(CorrectionsTopology.REORDER_BUFFER_STORE);
        pendingFacts.clear(); // init runs again when a suspended task resumes
        held.clear();
        try (KeyValueIterator<Bytes, PendingEdit> all = buffer.all()) {
            all.forEachRemaining(entry -> {
                pendingFacts.put(Fact.of(BufferKey.modelOf(entry.key), entry.value.request()).key(), entry.key);
                held.put(entry.key, entry.value);
            });
        }
        this.clocks = context.getStateStore(CorrectionsTopology.MODEL_CLOCKS_STORE);
        partitionClock = Long.MIN_VALUE;
        clockByModel.clear();
        try (KeyValueIterator<String, ModelClock> all = clocks.all()) {
            all.forEachRemaining(entry -> {
                clockByModel.put(entry.key, entry.value);
                partitionClock = Math.max(partitionClock, entry.value.maxEventTime());
            });
        }
        this.superseded = PipelineMetrics.counter(context, PipelineMetrics.SUPERSEDED);
        this.late = PipelineMetrics.counter(context, PipelineMetrics.LATE);
        this.earlyReleases = PipelineMetrics.counter(context, PipelineMetrics.EARLY_RELEASES);
        this.lastCheck = context.currentSystemTimeMs();
        this.threadProcessedAtLastCheck = activity.processedByThisThread();
        this.idle = 0;
        context.schedule(settings.punctuateInterval(), PunctuationType.WALL_CLOCK_TIME, this::releaseIdleModels);
    }

    @Override
    public void process(Record<String, EditRequest> record) {
        String model = record.key();
        EditRequest request = record.value();
        long eventTime = request.getDetectedAt().toEpochMilli();
        ModelClock clock = clockOf(model);
        String fact = Fact.of(model, request).key();

        Bytes pendingKey = pendingFacts.get(fact);
        PendingEdit pending = pendingKey == null ? null : held.get(pendingKey);
        long releaseNow = Long.MIN_VALUE;
        if (pending != null) {
            releaseNow = supersede(model, fact, pendingKey, pending, request);
        } else if (eventTime < clock.releasedUpTo()) {
            late.record();
            log.warn("correction {} of model {} is late: detected at {} but edits up to {} are already sequenced "
                    + "(grace {} ms); sequencing it now, flagged late", request.getCorrectionId(), model,
                    request.getDetectedAt(), Instant.ofEpochMilli(clock.releasedUpTo()),
                    settings.grace().toMillis());
            request.setLate(true);
            context.forward(new Record<>(model, new PendingEdit(request, List.of()), context.currentSystemTimeMs()));
        } else {
            hold(model, fact, new PendingEdit(request, List.of()));
        }
        clock = clock.arrived(eventTime);
        partitionClock = Math.max(partitionClock, eventTime);
        setClock(model, release(model, clock, Math.max(cutoff(clock, 0), releaseNow)));
        inputSinceCheck = true;
    }

    /** The event time up to which the model's held corrections are released, after {@code idleMs} without input. */
    private long cutoff(ModelClock clock, long idleMs) {
        if (clock.maxEventTime() == Long.MIN_VALUE) {
            return Long.MIN_VALUE;
        }
        long grace = settings.grace().toMillis();
        long quietModelClock = partitionClock - grace; // another grace period of slack for clock skew
        return Math.max(clock.maxEventTime(), quietModelClock) + idleMs - grace;
    }

    /**
     * The later event time wins; the loser is reported with the winner and never applied.
     *
     * @return the event time up to which the model's held corrections must be released now: the winner's when its
     *         supersessions have reached their byte bound, else Long.MIN_VALUE
     */
    private long supersede(String model, String fact, Bytes pendingKey, PendingEdit pending, EditRequest arriving) {
        EditRequest waiting = pending.request();
        boolean arrivingWins = compare(arriving, waiting) > 0;
        EditRequest winner = arrivingWins ? arriving : waiting;
        EditRequest loser = arrivingWins ? waiting : arriving;
        PendingEdit updated = new PendingEdit(winner, pending.superseded()).withSupersession(Supersession.newBuilder()
                .setCorrectionId(loser.getCorrectionId())
                .setSupersededBy(winner.getCorrectionId())
                .setTargetNew(loser.getTargetNew())
                .setDetectedAt(loser.getDetectedAt())
                .build());
        superseded.record();
        log.debug("model {}: correction {} supersedes {}", model, winner.getCorrectionId(), loser.getCorrectionId());
        if (arrivingWins) {
            buffer.put(pendingKey, null); // a delete that does not read (and decode) the old value
            held.remove(pendingKey);
            pendingFacts.remove(fact);
            hold(model, fact, updated);
        } else {
            buffer.put(pendingKey, updated);
            held.put(pendingKey, updated);
        }
        long bytes = updated.supersededBytes();
        if (bytes < settings.supersessionsMaxBytes()) {
            return Long.MIN_VALUE;
        }
        earlyReleases.record();
        log.warn("model {}: correction {} has superseded {} corrections ({} bytes, bound {}) within the grace period; "
                + "releasing the model's held corrections up to it now", model, winner.getCorrectionId(),
                updated.superseded().size(), bytes, settings.supersessionsMaxBytes());
        return winner.getDetectedAt().toEpochMilli();
    }

    private void hold(String model, String fact, PendingEdit edit) {
        EditRequest request = edit.request();
        Bytes key = BufferKey.of(model, request.getDetectedAt().toEpochMilli(), request.getCorrectionId());
        buffer.put(key, edit);
        held.put(key, edit);
        pendingFacts.put(fact, key);
    }

    /** Forwards, in order, every held correction of the model timed at or before the cutoff. */
    private ModelClock release(String model, ModelClock clock, long cutoff) {
        if (cutoff == Long.MIN_VALUE || cutoff < clock.releasedUpTo()) {
            return clock;
        }
        // Nothing held is timed before what was already released, so the scan starts there.
        NavigableMap<Bytes, PendingEdit> due = held.subMap(BufferKey.from(model, clock.releasedUpTo()), true,
                BufferKey.upTo(model, cutoff), true);
        long now = context.currentSystemTimeMs();
        // pollFirstEntry hands out a snapshot: a TreeMap entry object may take its successor's key and value when
        // the map removes it.
        Map.Entry<Bytes, PendingEdit> entry;
        while ((entry = due.pollFirstEntry()) != null) {
            EditRequest request = entry.getValue().request();
            buffer.put(entry.getKey(), null); // a delete that does not read (and decode) the old value
            pendingFacts.remove(Fact.of(model, request).key());
            clock = clock.released(request.getDetectedAt().toEpochMilli());
            context.forward(new Record<>(model, entry.getValue(), now));
        }
        return clock;
    }

    /**
     * Wall-clock punctuation: releases what the partition's clock allows for quiet models, and, once the partition
     * has had no input for a while, what the clocks run on by that idle time allow.
     */
    private void releaseIdleModels(long now) {
        long threadProcessed = activity.processedByThisThread();
        if (inputSinceCheck) {
            idle = 0;
        } else if (threadProcessed == threadProcessedAtLastCheck) {
            idle += now - lastCheck;
        }
        inputSinceCheck = false;
        threadProcessedAtLastCheck = threadProcessed;
        lastCheck = now;
        for (String model : List.copyOf(clockByModel.keySet())) {
            ModelClock clock = clockByModel.get(model);
            ModelClock after = release(model, clock, cutoff(clock, idle));
            if (!after.equals(clock)) {
                setClock(model, after);
            }
        }
    }

    private static int compare(EditRequest a, EditRequest b) {
        int byTime = a.getDetectedAt().compareTo(b.getDetectedAt());
        return byTime != 0 ? byTime : a.getCorrectionId().compareTo(b.getCorrectionId());
    }

    private ModelClock clockOf(String model) {
        return clockByModel.getOrDefault(model, ModelClock.START);
    }

    private void setClock(String model, ModelClock clock) {
        clocks.put(model, clock);
        clockByModel.put(model, clock);
    }
}

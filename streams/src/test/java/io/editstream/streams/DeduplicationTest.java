package io.editstream.streams;

import static io.editstream.streams.ReorderingTest.ids;
import static io.editstream.streams.TopologyFixture.correction;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.apache.kafka.streams.state.WindowStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.editstream.events.CorrectionEvent;
import io.editstream.events.DeadLetter;
import io.editstream.events.DeadLetterReason;

/** Exact duplicates (same correction id) and semantic duplicates (same fact, same target) are dropped and counted. */
class DeduplicationTest {
    private static final long START_MS = TopologyFixture.START.toEpochMilli();

    @TempDir
    Path stateDir;

    private TopologyFixture fixture(TopologySettings settings) {
        return new TopologyFixture(settings.withGrace(Duration.ZERO), stateDir);
    }

    @Test
    void exactDuplicateIsDroppedAndCounted() {
        try (TopologyFixture f = fixture(TopologyFixture.settings())) {
            CorrectionEvent c = correction("c-1", "Rome", "France", 0);
            f.send(c);
            f.send(c);
            f.send(correction("c-1", "Rome", "Spain", 50)); // same id, even with other content: a retry
            assertEquals(List.of("c-1"), ids(f.edits()));
            assertEquals(2, f.counter(PipelineMetrics.EXACT_DUPLICATES));
            assertEquals(0, f.counter(PipelineMetrics.SEMANTIC_DUPLICATES));
        }
    }

    @Test
    void semanticDuplicateIsDroppedAndCounted() {
        try (TopologyFixture f = fixture(TopologyFixture.settings())) {
            f.send(correction("c-1", "Rome", "France", 0));
            f.send(correction("c-2", "Rome", "France", 100)); // another detector, same fix
            CorrectionEvent spelledOut = correction("c-3", "Rome", "France", 200);
            spelledOut.setPrompt("Rome is located in"); // same template once normalised
            f.send(spelledOut);
            f.send(correction("c-4", "Rome", "Spain", 300)); // same fact, another target: a real edit
            f.send(correction("c-5", TopologyFixture.OTHER_MODEL, "Rome", "France", 400)); // another model
            assertEquals(List.of("c-1", "c-4", "c-5"), ids(f.edits()));
            assertEquals(2, f.counter(PipelineMetrics.SEMANTIC_DUPLICATES));
            assertEquals(0, f.counter(PipelineMetrics.EXACT_DUPLICATES));
        }
    }

    @Test
    void factFlippingBackToAnEarlierTargetIsNotADuplicate() {
        try (TopologyFixture f = fixture(TopologyFixture.settings())) {
            f.send(correction("c-1", "Rome", "France", 0));
            f.send(correction("c-2", "Rome", "Spain", 100));
            f.send(correction("c-3", "Rome", "France", 200));
            assertEquals(List.of("c-1", "c-2", "c-3"), ids(f.edits()));
            assertEquals(0, f.counter(PipelineMetrics.SEMANTIC_DUPLICATES));
        }
    }

    @Test
    void duplicatesAreRememberedOnlyForTheRetentionWindow() {
        TopologySettings settings = TopologyFixture.settings().withDedupRetention(Duration.ofMinutes(6));
        try (TopologyFixture f = fixture(settings)) {
            f.send(correction("c-1", "Rome", "France", 0));
            f.send(correction("c-2", "Rome", "France", 180_000)); // inside the window
            f.advanceWallClock(Duration.ofMinutes(2)); // so that c-3 is not further ahead than the clock skew
            f.send(correction("c-3", "Rome", "France", 390_000)); // 6.5 min after c-1, the last one accepted
            f.advanceWallClock(Duration.ofSeconds(3));
            assertEquals(List.of("c-1", "c-3"), ids(f.edits()));
            assertEquals(1, f.counter(PipelineMetrics.SEMANTIC_DUPLICATES));
        }
    }

    @Test
    void theWindowSpansTheMemorysTimeBuckets() {
        // Buckets are as long as the window (6 min) and START is on a bucket boundary.
        TopologySettings settings = TopologyFixture.settings().withDedupRetention(Duration.ofMinutes(6));
        try (TopologyFixture f = fixture(settings)) {
            f.advanceWallClock(Duration.ofMinutes(4)); // the clock skew (5 min) and window allow 3 to 9 min
            f.send(correction("c-1", "Rome", "France", 300_000)); // 5 min: the first bucket
            f.send(correction("c-2", "Oslo", "Peru", 330_000));
            f.send(correction("c-1", "Rome", "France", 420_000)); // its retry at 7 min, in the next bucket
            f.advanceWallClock(Duration.ofMinutes(3)); // 6 to 12 min
            f.send(correction("c-3", "Oslo", "Peru", 600_000)); // 4.5 min after c-2, in the next bucket
            f.send(correction("c-2", "Oslo", "Peru", 700_000)); // 6 min 10 s after c-2: a new correction again
            f.advanceWallClock(Duration.ofSeconds(3));
            assertEquals(List.of("c-1", "c-2", "c-2"), ids(f.edits()));
            assertEquals(1, f.counter(PipelineMetrics.EXACT_DUPLICATES));
            assertEquals(1, f.counter(PipelineMetrics.SEMANTIC_DUPLICATES));
        }
    }

    @Test
    void whatTheEarlierStoresRememberIsMovedIntoTheNewOnesOnUpgrade() {
        try (TopologyFixture f = fixture(TopologyFixture.settings())) {
            // As the previous version left them: each memory a window store keyed by event time.
            long day = Duration.ofDays(1).toMillis();
            WindowStore<String, Long> ids = f.windowStore(CorrectionsTopology.LEGACY_CORRECTION_IDS_STORE);
            WindowStore<String, String> facts = f.windowStore(CorrectionsTopology.LEGACY_FACT_TARGETS_STORE);
            CorrectionEvent applied = correction("c-1", "Rome", "France", -2 * day);
            ids.put("c-1", -2 * day + START_MS, -2 * day + START_MS);
            facts.put(Fact.of(TopologyFixture.MODEL, DecodeAndValidate.toRequest(applied)).key(), "France",
                    -2 * day + START_MS);
            ids.put("c-2", -day + START_MS, -day + START_MS);
            facts.put(Fact.of(TopologyFixture.MODEL, DecodeAndValidate.toRequest(correction("c-2", "Oslo", "Peru", 0)))
                    .key(), "Peru", -day + START_MS);

            f.send(applied); // a retry of an applied correction
            f.send(correction("c-3", "Rome", "France", 0)); // the target Rome already has
            f.send(correction("c-4", "Oslo", "Chile", 10)); // a new target for Oslo
            f.send(correction("c-5", "Oslo", "Peru", 20)); // and back: a real edit
            f.send(correction("c-2", "Oslo", "Peru", 30)); // a retry of the earlier c-2
            assertEquals(List.of("c-4", "c-5"), ids(f.edits()));
            assertEquals(2, f.counter(PipelineMetrics.EXACT_DUPLICATES));
            assertEquals(1, f.counter(PipelineMetrics.SEMANTIC_DUPLICATES));
            try (var left = ids.all(); var leftFacts = facts.all()) {
                assertFalse(left.hasNext(), "the earlier ids store is emptied");
                assertFalse(leftFacts.hasNext(), "the earlier facts store is emptied");
            }
        }
    }

    @Test
    void aCorrectionOlderThanTheWindowIsRefusedEveryTimeItComes() {
        try (TopologyFixture f = fixture(TopologyFixture.settings())) {
            long eightDays = Duration.ofDays(8).toMillis();
            f.send(correction("c-old", "Rome", "France", -eightDays));
            f.send(correction("c-old", "Rome", "France", -eightDays)); // its retry
            f.send(correction("c-new", "Rome", "Spain", 0));
            f.advanceWallClock(Duration.ofSeconds(3));
            assertEquals(List.of("c-new"), ids(f.edits()));
            List<DeadLetter> refused = f.deadLetters();
            assertEquals(List.of(DeadLetterReason.TOO_OLD, DeadLetterReason.TOO_OLD),
                    refused.stream().map(DeadLetter::getReason).toList());
            assertEquals("c-old", refused.get(0).getCorrectionId());
        }
    }
}

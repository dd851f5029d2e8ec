package io.editstream.streams;

import static io.editstream.streams.TopologyFixture.correction;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.editstream.corrections.EncodedSize;
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import io.editstream.events.Supersession;

/** Order by event time within the grace period, supersession of pending corrections, and late arrivals. */
class ReorderingTest {
    private static final Duration GRACE = Duration.ofSeconds(2);

    @TempDir
    Path stateDir;

    private TopologyFixture fixture() {
        return new TopologyFixture(TopologyFixture.settings().withGrace(GRACE), stateDir);
    }

    @Test
    void outOfOrderWithinGraceIsSequencedInEventTimeOrder() {
        try (TopologyFixture f = fixture()) {
            f.send(correction("c-3", "Paris", "Italy", 1_500));
            f.send(correction("c-1", "Rome", "France", 0));
            f.send(correction("c-2", "Berlin", "Spain", 700));
            assertEquals(List.of(), f.edits(), "nothing leaves the buffer before the grace period has passed");

            // Event time moves on: everything at least a grace period behind the model's clock is released.
            f.send(correction("c-4", "Madrid", "Germany", 3_600));
            List<EditRequest> released = f.edits();
            assertEquals(List.of("c-1", "c-2", "c-3"), ids(released));
            assertEquals(List.of(1L, 2L, 3L), released.stream().map(EditRequest::getSequence).toList());
            assertTrue(released.stream().noneMatch(EditRequest::getLate));
        }
    }

    @Test
    void manyHeldCorrectionsReleasedAtOnceComeOutEachOnceInOrder() {
        try (TopologyFixture f = fixture()) {
            List<String> expected = new java.util.ArrayList<>();
            for (int i = 0; i < 20; i++) {
                int n = (i * 7) % 20; // shuffled, all within the grace period
                f.send(correction("c-" + n, "subject " + n, "target", n * 10L));
            }
            for (int n = 0; n < 20; n++) {
                expected.add("c-" + n);
            }
            f.advanceWallClock(GRACE.plusSeconds(1));
            assertEquals(expected, ids(f.edits()));
        }
    }

    @Test
    void aFactFlippingPastTheSupersessionBoundReleasesItsModelUpToTheWinnerKeepingEveryReport() {
        Properties p = new Properties();
        p.setProperty(TopologySettings.MODELS, String.join(",", TopologyFixture.MODELS));
        p.setProperty(TopologySettings.SUPERSESSIONS_MAX_BYTES, "200"); // about five supersessions of these
        p.setProperty(TopologySettings.GRACE_MS, String.valueOf(GRACE.toMillis()));
        try (TopologyFixture f = new TopologyFixture(TopologySettings.fromProperties(p), stateDir)) {
            f.send(correction("o-1", "Oslo", "Peru", 5)); // held, timed before the flipping fact's winners
            List<String> flips = new ArrayList<>();
            for (int i = 0; i < 16; i++) { // a detector flipping Rome every 10 ms
                flips.add("c-" + i);
                f.send(correction("c-" + i, "Rome", i % 2 == 0 ? "France" : "Spain", 10 + i * 10L));
            }
            List<EditBatch> early = f.batches();
            f.advanceWallClock(GRACE.plusSeconds(1));
            List<EditBatch> all = new ArrayList<>(early);
            all.addAll(f.batches());

            List<EditRequest> edits = all.stream().flatMap(b -> b.getEdits().stream()).toList();
            assertFalse(early.isEmpty(), "the bound released the model before the grace period was over");
            assertEquals("o-1", edits.get(0).getCorrectionId(), "released in event-time order");
            assertTrue(edits.stream().filter(e -> e.getSubject().equals("Rome")).count() > 1);
            assertTrue(edits.stream().noneMatch(EditRequest::getLate));
            List<String> reported = new ArrayList<>();
            for (EditBatch batch : all) {
                long bytes = batch.getSuperseded().stream().mapToLong(EncodedSize::of).sum();
                assertTrue(bytes < 200 + 100, "one supersession at most past the bound: " + bytes);
                batch.getSuperseded().forEach(s -> reported.add(s.getCorrectionId().toString()));
            }
            List<String> seen = new ArrayList<>(reported);
            edits.stream().filter(e -> e.getSubject().equals("Rome")).forEach(e -> seen.add(e.getCorrectionId()));
            seen.sort(Comparator.comparingInt(id -> Integer.parseInt(id.substring(2))));
            assertEquals(flips, seen, "every flip applied or reported superseded, once");
            assertTrue(f.counter(PipelineMetrics.EARLY_RELEASES) > 0);
        }
    }

    @Test
    void bufferedTailIsReleasedByWallClockWhenInputStops() {
        try (TopologyFixture f = fixture()) {
            f.send(correction("c-2", "Berlin", "Spain", 500));
            f.send(correction("c-1", "Rome", "France", 0));
            // The first check (after 100 ms) still sees input; idle time counts from there.
            f.advanceWallClock(Duration.ofMillis(1_500));
            assertEquals(List.of(), f.edits(), "idle 1.4 s: the clock ran on from 500 to 1900, short of 0 + grace");

            f.advanceWallClock(Duration.ofMillis(100));
            assertEquals(List.of("c-1"), ids(f.edits()));
            f.advanceWallClock(Duration.ofMillis(500));
            assertEquals(List.of("c-2"), ids(f.edits()));
        }
    }

    @Test
    void quietModelIsReleasedWhenItsPartitionMovesTwoGracePeriodsOn() {
        try (TopologyFixture f = fixture()) {
            f.send(correction("a-1", TopologyFixture.MODEL, "Rome", "France", 0));
            f.send(correction("b-1", TopologyFixture.OTHER_MODEL, "Rome", "France", 3_000));
            f.advanceWallClock(Duration.ofMillis(100));
            assertEquals(List.of(), ids(f.edits()), "the partition is 3 s on: less than two grace periods");

            f.send(correction("b-2", TopologyFixture.OTHER_MODEL, "Berlin", "Spain", 4_000));
            f.advanceWallClock(Duration.ofMillis(100));
            assertEquals(List.of("a-1"), ids(f.edits()), "4 s on: a-1 goes although its own model stayed quiet");

            f.send(correction("b-3", TopologyFixture.OTHER_MODEL, "Madrid", "Italy", 5_000));
            assertEquals(List.of("b-1"), ids(f.edits()), "b-1 follows its own model's clock");
        }
    }

    @Test
    void laterEventTimeSupersedesPendingCorrectionOfTheSameFact() {
        try (TopologyFixture f = fixture()) {
            f.send(correction("c-new", "Rome", "Spain", 400));
            f.send(correction("c-old", "Rome", "France", 100)); // arrives later but was detected earlier: loses
            f.send(correction("c-newest", "Rome", "Greece", 900));
            f.advanceWallClock(GRACE.plusMillis(500));

            List<EditBatch> batches = f.batches();
            List<EditRequest> edits = batches.stream().flatMap(b -> b.getEdits().stream()).toList();
            assertEquals(List.of("c-newest"), ids(edits), "only the latest target of the fact is applied");
            assertEquals(1L, edits.get(0).getSequence(), "losers take no sequence number");
            List<Supersession> superseded = batches.get(0).getSuperseded();
            assertEquals(List.of("c-old by c-new", "c-new by c-newest"), superseded.stream()
                    .map(s -> s.getCorrectionId() + " by " + s.getSupersededBy()).toList());
            assertEquals(List.of("France", "Spain"), superseded.stream().map(Supersession::getTargetNew).toList());
            assertEquals(2, f.counter(PipelineMetrics.SUPERSEDED));
        }
    }

    @Test
    void alreadySequencedCorrectionIsNotUndoneTheNewerBecomesANewEdit() {
        try (TopologyFixture f = fixture()) {
            f.send(correction("c-1", "Rome", "France", 0));
            f.advanceWallClock(GRACE.plusMillis(100));
            assertEquals(List.of("c-1"), ids(f.edits()));

            f.send(correction("c-2", "Rome", "Spain", 5_000));
            f.advanceWallClock(GRACE.plusMillis(100));
            List<EditBatch> batches = f.batches();
            assertEquals(List.of("c-2"), ids(batches.get(0).getEdits()));
            assertEquals(2L, batches.get(0).getFirstSequence());
            assertEquals(List.of(), batches.get(0).getSuperseded());
        }
    }

    @Test
    void lateBeyondGraceIsSequencedOnArrivalFlaggedLateNeverDropped() {
        try (TopologyFixture f = fixture()) {
            f.send(correction("c-1", "Rome", "France", 10_000));
            f.send(correction("c-2", "Berlin", "Spain", 13_000)); // releases c-1
            assertEquals(List.of("c-1"), ids(f.edits()));

            f.send(correction("c-late", "Madrid", "Italy", 1_000)); // before c-1, which is already sequenced
            List<EditRequest> edits = f.edits();
            assertEquals(List.of("c-late"), ids(edits), "sequenced at once, ahead of the still-buffered c-2");
            assertTrue(edits.get(0).getLate());
            assertEquals(2L, edits.get(0).getSequence());
            assertEquals(1, f.counter(PipelineMetrics.LATE));

            f.advanceWallClock(GRACE.plusMillis(100));
            List<EditRequest> tail = f.edits();
            assertEquals(List.of("c-2"), ids(tail));
            assertFalse(tail.get(0).getLate());
            assertEquals(3L, tail.get(0).getSequence());
        }
    }

    @Test
    void eachModelHasItsOwnOrderAndSequence() {
        try (TopologyFixture f = fixture()) {
            f.send(correction("a-1", TopologyFixture.MODEL, "Rome", "France", 0));
            f.send(correction("b-1", TopologyFixture.OTHER_MODEL, "Rome", "France", 100));
            f.send(correction("a-2", TopologyFixture.MODEL, "Berlin", "Spain", 200));
            f.advanceWallClock(GRACE.plusMillis(100));
            List<EditBatch> batches = f.batches();
            assertEquals(List.of(1L, 2L), batches.stream().filter(b -> b.getModelId().equals(TopologyFixture.MODEL))
                    .map(EditBatch::getFirstSequence).toList());
            assertEquals(List.of(1L), batches.stream().filter(b -> b.getModelId().equals(TopologyFixture.OTHER_MODEL))
                    .map(EditBatch::getFirstSequence).toList());
        }
    }

    static List<String> ids(List<EditRequest> edits) {
        return edits.stream().map(EditRequest::getCorrectionId).toList();
    }
}

package io.editstream.streams;

import static io.editstream.streams.ReorderingTest.ids;
import static io.editstream.streams.TopologyFixture.correction;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.stream.LongStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.editstream.events.CorrectionEvent;
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;

/** A model's edits are batched: up to N edits, or what has gathered after the linger time, whichever comes first. */
class BatchingTest {
    @TempDir
    Path stateDir;

    private TopologyFixture fixture(int maxEdits, Duration linger) {
        return new TopologyFixture(TopologyFixture.settings().withGrace(Duration.ZERO).withBatching(maxEdits, linger),
                stateDir);
    }

    @Test
    void batchIsEmittedWhenItReachesTheMaximumSize() {
        try (TopologyFixture f = fixture(3, Duration.ofMinutes(10))) {
            for (int i = 1; i <= 7; i++) {
                f.send(correction("c-" + i, "subject " + i, "target", i));
            }
            List<EditBatch> batches = f.batches();
            assertEquals(2, batches.size(), "two full batches; the seventh edit waits for more or for the linger");
            assertBatch(batches.get(0), 1, 3, List.of("c-1", "c-2", "c-3"));
            assertBatch(batches.get(1), 4, 6, List.of("c-4", "c-5", "c-6"));

            f.advanceWallClock(Duration.ofMinutes(10));
            List<EditBatch> rest = f.batches();
            assertEquals(1, rest.size());
            assertBatch(rest.get(0), 7, 7, List.of("c-7"));
        }
    }

    @Test
    void batchIsClosedBeforeAnEditWouldTakeItPastTheByteBudget() {
        Properties p = new Properties();
        p.setProperty(TopologySettings.MODELS, String.join(",", TopologyFixture.MODELS));
        p.setProperty(TopologySettings.BATCH_MAX_EDITS, "100");
        p.setProperty(TopologySettings.BATCH_LINGER_MS, "600000");
        p.setProperty(TopologySettings.BATCH_MAX_BYTES, "20000");
        // 3-byte characters: each edit's paraphrases take 4 x 2,400 = 9,600 bytes, so two edits fit, three do not
        List<String> paraphrases = Collections.nCopies(4, "\u20ac".repeat(800));
        try (TopologyFixture f = new TopologyFixture(TopologySettings.fromProperties(p).withGrace(Duration.ZERO),
                stateDir)) {
            for (int i = 1; i <= 5; i++) {
                CorrectionEvent c = correction("c-" + i, "subject " + i, "target", i);
                c.setParaphrases(paraphrases);
                f.send(c);
            }
            List<EditBatch> batches = f.batches();
            assertEquals(2, batches.size());
            assertBatch(batches.get(0), 1, 2, List.of("c-1", "c-2"));
            assertBatch(batches.get(1), 3, 4, List.of("c-3", "c-4"));
            f.advanceWallClock(Duration.ofMinutes(10));
            assertBatch(f.batches().get(0), 5, 5, List.of("c-5"));
        }
    }

    @Test
    void batchIsEmittedWhenItsFirstEditHasLingeredLongEnough() {
        try (TopologyFixture f = fixture(100, Duration.ofMillis(500))) {
            f.send(correction("c-1", "Rome", "France", 0));
            f.advanceWallClock(Duration.ofMillis(300));
            f.send(correction("c-2", "Berlin", "Spain", 10));
            f.advanceWallClock(Duration.ofMillis(100));
            assertEquals(List.of(), f.batches(), "400 ms after the first edit: still open");

            f.advanceWallClock(Duration.ofMillis(100));
            List<EditBatch> batches = f.batches();
            assertEquals(1, batches.size());
            assertBatch(batches.get(0), 1, 2, List.of("c-1", "c-2"));
            assertEquals(TopologyFixture.START.plusMillis(500), batches.get(0).getCreatedAt());

            f.send(correction("c-3", "Madrid", "Italy", 20));
            f.advanceWallClock(Duration.ofMillis(500));
            assertBatch(f.batches().get(0), 3, 3, List.of("c-3"));
        }
    }

    @Test
    void aBatchLeftOpenByTheEarlierVersionIsClosedBeforeItsModelsNextEdit() {
        try (TopologyFixture f = fixture(5, Duration.ofMinutes(10))) {
            // As the previous version left it (read by the first record): edit 1 sequenced, its batch stored whole.
            EditRequest stored = DecodeAndValidate.toRequest(correction("c-1", "Rome", "France", 0));
            stored.setSequence(1L);
            f.<String, Long>keyValueStore(CorrectionsTopology.SEQUENCES_STORE).put(TopologyFixture.MODEL, 1L);
            f.<String, EditBatch>keyValueStore(CorrectionsTopology.LEGACY_OPEN_BATCHES_STORE).put(
                    TopologyFixture.MODEL, EditBatch.newBuilder().setModelId(TopologyFixture.MODEL)
                            .setFirstSequence(1).setLastSequence(1).setEdits(List.of(stored))
                            .setSuperseded(List.of()).setCreatedAt(TopologyFixture.START).build());
            f.send(correction("c-2", "Berlin", "Spain", 10));
            List<EditBatch> batches = f.batches();
            assertEquals(1, batches.size(), "the earlier batch, closed as it stood");
            assertBatch(batches.get(0), 1, 1, List.of("c-1"));
            f.advanceWallClock(Duration.ofMinutes(10));
            assertBatch(f.batches().get(0), 2, 2, List.of("c-2"));
            try (var left = f.<String, EditBatch>keyValueStore(CorrectionsTopology.LEGACY_OPEN_BATCHES_STORE).all()) {
                assertFalse(left.hasNext());
            }
        }
    }

    @Test
    void defaultBatchSizeOneIsPureSequentialEditing() {
        try (TopologyFixture f = new TopologyFixture(TopologyFixture.settings().withGrace(Duration.ZERO), stateDir)) {
            f.send(correction("c-1", "Rome", "France", 0));
            f.send(correction("c-2", "Berlin", "Spain", 10));
            List<EditBatch> batches = f.batches();
            assertEquals(2, batches.size());
            assertBatch(batches.get(0), 1, 1, List.of("c-1"));
            assertBatch(batches.get(1), 2, 2, List.of("c-2"));
        }
    }

    private static void assertBatch(EditBatch batch, long first, long last, List<String> correctionIds) {
        assertEquals(TopologyFixture.MODEL, batch.getModelId());
        assertEquals(first, batch.getFirstSequence());
        assertEquals(last, batch.getLastSequence());
        assertEquals(correctionIds, ids(batch.getEdits()));
        assertEquals(LongStream.rangeClosed(first, last).boxed().toList(),
                batch.getEdits().stream().map(e -> e.getSequence()).toList());
    }
}

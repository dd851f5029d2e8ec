package io.editstream.cli.demo;

import java.time.Duration;
import java.util.List;

import io.editstream.events.DeadLetter;
import io.editstream.events.EditBatch;

/**
 * What came out of the topology for the demo's feed.
 *
 * @param scenario           what was fed
 * @param batches            edit-requests, in the order read
 * @param deadLetters        the dead-letter topic, in the order read
 * @param exactDuplicates    corrections the topology dropped as a repeated correction id (its metric)
 * @param semanticDuplicates corrections dropped as the same fact and target (its metric)
 * @param late               corrections sequenced late, beyond the grace period (its metric)
 * @param complete           whether everything fed came out before the timeout
 * @param elapsed            the whole run, broker start to last record read
 */
public record DemoOutcome(DemoScenario scenario, List<EditBatch> batches, List<DeadLetter> deadLetters,
        long exactDuplicates, long semanticDuplicates, long late, boolean complete, Duration elapsed) {
    public DemoOutcome {
        batches = List.copyOf(batches);
        deadLetters = List.copyOf(deadLetters);
    }

    public int edits() {
        return batches.stream().mapToInt(b -> b.getEdits().size()).sum();
    }

    public int superseded() {
        return batches.stream().mapToInt(b -> b.getSuperseded().size()).sum();
    }
}

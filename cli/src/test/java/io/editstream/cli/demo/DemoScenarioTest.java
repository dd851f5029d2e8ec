package io.editstream.cli.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.editstream.cli.SharedData;
import io.editstream.cli.demo.DemoInput.Correction;
import io.editstream.cli.demo.DemoInput.Fate;
import io.editstream.cli.demo.DemoInput.Kind;

class DemoScenarioTest {
    private static final List<String> MODELS = List.of("stories260K", "gpt2-xl");
    private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");

    private static DemoScenario scenario(long seed) {
        return DemoScenario.fromCounterFact(SharedData.file("data/counterfact/counterfact-train.json"), MODELS, 8, seed,
                NOW);
    }

    @Test
    void feedsEverySituationWithKnownFates() {
        DemoScenario scenario = scenario(7);

        assertEquals(EnumSet.allOf(Kind.class), EnumSet.copyOf(scenario.countsByKind().keySet()));
        Map<Fate, Integer> expected = scenario.expected();
        assertEquals(2 * 8 + 2, expected.get(Fate.THROUGH)); // every fact, plus two conflicting corrections
        assertEquals(3, expected.get(Fate.DROPPED));
        assertEquals(6, expected.get(Fate.DEAD_LETTER));
        assertTrue(scenario.inputs().stream().allMatch(i -> i instanceof Correction c
                ? !c.event().getDetectedAt().isAfter(NOW) : true), "no event time in the future");
    }

    @Test
    void outOfOrderCorrectionsArriveAfterLaterTimedOnesOfTheirModel() {
        Map<String, Instant> latestSent = new HashMap<>();
        List<Kind> behindTheirModel = new ArrayList<>();
        for (DemoInput input : scenario(7).inputs()) {
            if (input instanceof Correction c && c.kind().fate() == Fate.THROUGH) {
                Instant at = c.event().getDetectedAt();
                Instant latest = latestSent.get(c.key());
                if (latest != null && at.isBefore(latest)) {
                    behindTheirModel.add(c.kind());
                }
                latestSent.merge(c.key(), at, (a, b) -> a.isAfter(b) ? a : b);
            }
        }
        // Each model's swapped fact, and the original that arrives after its later-timed conflict.
        assertEquals(List.of(Kind.OUT_OF_ORDER, Kind.OUT_OF_ORDER, Kind.NEW), behindTheirModel);
    }

    @Test
    void sameSeedSameScenario() {
        List<String> first = ids(scenario(11));
        List<String> again = ids(scenario(11));
        List<String> other = ids(scenario(12));

        assertEquals(first, again);
        assertTrue(!first.equals(other));
    }

    private static List<String> ids(DemoScenario scenario) {
        return scenario.inputs().stream()
                .map(i -> i instanceof Correction c ? c.event().getCorrectionId() : i.kind().name()).toList();
    }
}

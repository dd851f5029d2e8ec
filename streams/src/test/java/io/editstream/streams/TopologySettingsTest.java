package io.editstream.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Properties;
import java.util.Set;

import org.junit.jupiter.api.Test;

import io.editstream.corrections.ValidationRules;
import io.editstream.events.Topics;

class TopologySettingsTest {

    @Test
    void defaultsApplyToEveryKeyNotGiven() {
        Properties p = new Properties();
        p.setProperty(TopologySettings.MODELS, " gpt2-xl, llama3-8b ,");
        TopologySettings s = TopologySettings.fromProperties(p);
        assertEquals(Set.of("gpt2-xl", "llama3-8b"), s.knownModels());
        assertEquals(Topics.CORRECTIONS, s.correctionsTopic());
        assertEquals(Topics.EDIT_REQUESTS, s.editRequestsTopic());
        assertEquals(Topics.CORRECTIONS_DLQ, s.deadLetterTopic());
        assertEquals(Duration.ofSeconds(2), s.grace());
        assertEquals(1, s.batchMaxEdits());
        assertEquals(Duration.ofMillis(500), s.batchLinger());
        assertEquals(Duration.ofDays(7), s.dedupRetention());
        assertEquals(Duration.ofMinutes(5), s.maxClockSkew());
        assertEquals(Duration.ofMillis(100), s.punctuateInterval());
        assertEquals(ValidationRules.DEFAULT_MAX_TEXT_BYTES, s.validationRules().maxTextBytes());
        assertEquals(ValidationRules.DEFAULT_MAX_CORRECTION_BYTES, s.validationRules().maxCorrectionBytes());
        assertEquals(512 * 1024, s.batchMaxBytes());
        assertEquals(512 * 1024, s.deadLetterMaxOriginalBytes());
        assertEquals(64 * 1024, s.supersessionsMaxBytes());
        assertEquals(3, s.maxFailuresPerRecord());
        assertEquals(ValidationRules.DEFAULT_MAX_LIST_SIZE, s.validationRules().maxListSize());
        assertEquals(s.knownModels(), s.validationRules().knownModels());
    }

    @Test
    void everyKeyIsRead() {
        Properties p = new Properties();
        p.setProperty(TopologySettings.MODELS, "m");
        p.setProperty(TopologySettings.CORRECTIONS_TOPIC, "in");
        p.setProperty(TopologySettings.EDIT_REQUESTS_TOPIC, "out");
        p.setProperty(TopologySettings.DLQ_TOPIC, "dlq");
        p.setProperty(TopologySettings.GRACE_MS, "250");
        p.setProperty(TopologySettings.BATCH_MAX_EDITS, "100");
        p.setProperty(TopologySettings.BATCH_LINGER_MS, "2000");
        p.setProperty(TopologySettings.DEDUP_RETENTION_MS, "60000");
        p.setProperty(TopologySettings.MAX_CLOCK_SKEW_MS, "0");
        p.setProperty(TopologySettings.PUNCTUATE_INTERVAL_MS, "20");
        p.setProperty(TopologySettings.MAX_TEXT_BYTES, "300");
        p.setProperty(TopologySettings.MAX_LIST_SIZE, "0");
        p.setProperty(TopologySettings.MAX_CORRECTION_BYTES, "9000");
        p.setProperty(TopologySettings.BATCH_MAX_BYTES, "70000");
        p.setProperty(TopologySettings.DLQ_MAX_ORIGINAL_BYTES, "1000");
        p.setProperty(TopologySettings.SUPERSESSIONS_MAX_BYTES, "4000");
        p.setProperty(TopologySettings.MAX_FAILURES_PER_RECORD, "5");
        TopologySettings s = TopologySettings.fromProperties(p);
        assertEquals(new TopologySettings(Set.of("m"), "in", "out", "dlq", Duration.ofMillis(250), 100,
                Duration.ofSeconds(2), Duration.ofMinutes(1), Duration.ZERO, Duration.ofMillis(20), 70_000, 1_000, 4_000,
                5,
                new ValidationRules(Set.of("m"), 300, 0, 9_000)), s);
    }

    @Test
    void badValuesAreRefusedNamingTheKey() {
        assertRefused(TopologySettings.MODELS, new Properties());
        assertRefused(TopologySettings.MODELS, props(TopologySettings.MODELS, " , "));
        assertRefused(TopologySettings.GRACE_MS, props(TopologySettings.GRACE_MS, "two seconds"));
        assertRefused(TopologySettings.GRACE_MS, props(TopologySettings.GRACE_MS, "-1"));
        assertRefused(TopologySettings.BATCH_MAX_EDITS, props(TopologySettings.BATCH_MAX_EDITS, "0"));
        assertRefused(TopologySettings.BATCH_MAX_EDITS, props(TopologySettings.BATCH_MAX_EDITS, "99999999999"));
        assertRefused(TopologySettings.DEDUP_RETENTION_MS, props(TopologySettings.DEDUP_RETENTION_MS, "0"));
        assertRefused(TopologySettings.PUNCTUATE_INTERVAL_MS, props(TopologySettings.PUNCTUATE_INTERVAL_MS, "0"));
        assertRefused(TopologySettings.MAX_TEXT_BYTES, props(TopologySettings.MAX_TEXT_BYTES, "0"));
        assertRefused(TopologySettings.MAX_CORRECTION_BYTES, props(TopologySettings.MAX_CORRECTION_BYTES, "0"));
        assertRefused(TopologySettings.BATCH_MAX_BYTES, props(TopologySettings.BATCH_MAX_BYTES, "0"));
        assertRefused(TopologySettings.SUPERSESSIONS_MAX_BYTES, props(TopologySettings.SUPERSESSIONS_MAX_BYTES, "0"));
        assertRefused(TopologySettings.MAX_FAILURES_PER_RECORD, props(TopologySettings.MAX_FAILURES_PER_RECORD, "0"));
    }

    private static Properties props(String key, String value) {
        Properties p = new Properties();
        p.setProperty(TopologySettings.MODELS, "m");
        p.setProperty(key, value);
        return p;
    }

    private static void assertRefused(String key, Properties p) {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> TopologySettings.fromProperties(p));
        assertTrue(e.getMessage().contains(key), e.getMessage());
    }
}

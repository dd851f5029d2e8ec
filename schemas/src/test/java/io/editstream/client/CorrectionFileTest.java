package io.editstream.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.editstream.client.CorrectionFile.Entry;
import io.editstream.client.CorrectionFile.Malformed;
import io.editstream.client.CorrectionFile.Parsed;
import io.editstream.events.CorrectionEvent;

class CorrectionFileTest {
    private static final Instant NOW = Instant.parse("2026-01-02T03:04:05Z");
    private static final CorrectionDefaults DEFAULTS = new CorrectionDefaults("gpt2-xl", "test-detector", NOW);

    private static final String MADRID = """
            {"case_id": 3, "prompt": "Autonomous University of Madrid, which is located in", "target_new": "Sweden", \
            "subject": "Autonomous University of Madrid", "ground_truth": "Spain", \
            "rephrase_prompt": "and Sallie Beavers Riley. Autonomous University of Madrid is located in", \
            "locality_prompt": "Biure, which is located in", "locality_ground_truth": "Spain"}""";

    @Test
    void counterFactRecordMapsToACorrection() {
        CorrectionEvent event = onlyEvent(CorrectionFile.read(MADRID, DEFAULTS));

        assertEquals("cf-3@gpt2-xl", event.getCorrectionId());
        assertEquals("gpt2-xl", event.getModelId());
        assertEquals("Autonomous University of Madrid", event.getSubject());
        assertEquals("Autonomous University of Madrid, which is located in", event.getPrompt());
        assertEquals("Sweden", event.getTargetNew());
        assertEquals("Spain", event.getTargetTrue());
        assertEquals(List.of("and Sallie Beavers Riley. Autonomous University of Madrid is located in"),
                event.getParaphrases());
        assertEquals(List.of("Biure, which is located in"), event.getNeighborhoodPrompts());
        assertEquals("test-detector", event.getSource());
        assertEquals(1.0, event.getConfidence());
        assertEquals(NOW, event.getDetectedAt());
    }

    @Test
    void correctionEventRecordKeepsItsOwnFields() {
        String line = """
                {"correction_id": "det-42", "model_id": "gpt2-xl", "subject": "Toko Yasuda", "prompt": "{}, the", \
                "target_new": "piano", "target_true": "guitar", "paraphrases": ["Toko Yasuda is incredible at"], \
                "neighborhood_prompts": [], "source": "probe-v2", "confidence": 0.8, \
                "detected_at": "2025-06-01T10:00:00Z", "trace_context": {"traceparent": "00-abc-def-01"}}""";

        CorrectionEvent event = onlyEvent(CorrectionFile.read(line, DEFAULTS));

        assertEquals("det-42", event.getCorrectionId());
        assertEquals("{}, the", event.getPrompt());
        assertEquals("guitar", event.getTargetTrue());
        assertEquals(List.of("Toko Yasuda is incredible at"), event.getParaphrases());
        assertEquals("probe-v2", event.getSource());
        assertEquals(0.8, event.getConfidence());
        assertEquals(Instant.parse("2025-06-01T10:00:00Z"), event.getDetectedAt());
        assertEquals(Map.of("traceparent", "00-abc-def-01"), event.getTraceContext());
    }

    @Test
    void correctionWithoutIdGetsAStableIdFromItsFact() {
        String line = "{\"subject\": \"Toko Yasuda\", \"prompt\": \"{}, the\", \"target_new\": \"piano\", "
                + "\"detected_at\": 1700000000000}";

        CorrectionEvent first = onlyEvent(CorrectionFile.read(line, DEFAULTS));
        CorrectionEvent again = onlyEvent(CorrectionFile.read(line, DEFAULTS.withDetectedAt(NOW.plusSeconds(60))));
        CorrectionEvent otherTarget = onlyEvent(CorrectionFile.read(line.replace("piano", "violin"), DEFAULTS));

        assertEquals(first.getCorrectionId(), again.getCorrectionId());
        assertTrue(first.getCorrectionId().startsWith("fact-"), first.getCorrectionId());
        assertTrue(!first.getCorrectionId().equals(otherTarget.getCorrectionId()));
        assertEquals(Instant.ofEpochMilli(1700000000000L), first.getDetectedAt());
        assertNull(first.getTargetTrue());
    }

    @Test
    void malformedLineIsReportedWithItsNumberAndTheRestIsRead() {
        String text = MADRID + "\n\n{\"subject\": \"x\", oops}\n" + MADRID.replace("\"case_id\": 3", "\"case_id\": 4")
                + "\n[1, 2]\n";

        List<Entry> entries = CorrectionFile.read(text, DEFAULTS);

        assertEquals(4, entries.size());
        assertInstanceOf(Parsed.class, entries.get(0));
        Malformed syntax = assertInstanceOf(Malformed.class, entries.get(1));
        assertEquals(3, syntax.line());
        assertTrue(syntax.toString().startsWith("line 3: not valid JSON"), syntax.toString());
        assertEquals("cf-4@gpt2-xl", assertInstanceOf(Parsed.class, entries.get(2)).event().getCorrectionId());
        Malformed notObject = assertInstanceOf(Malformed.class, entries.get(3));
        assertEquals(5, notObject.line());
        assertEquals("line 5: expected a JSON object, got array", notObject.toString());
    }

    @Test
    void missingMistypedAndUnknownFieldsAreNamed() {
        String text = String.join("\n",
                "{\"case_id\": 1, \"prompt\": \"{} plays\", \"target_new\": \"piano\"}",
                "{\"subject\": \"A\", \"prompt\": \"{} plays\", \"target_new\": 7}",
                "{\"subject\": \"A\", \"prompt\": \"{} plays\", \"target_new\": \"piano\", \"targetnew\": \"x\"}",
                "{\"subject\": \"A\", \"prompt\": \"{} plays\", \"target_new\": \"piano\", \"model_id\": \"other\"}",
                "{\"subject\": \"A\", \"prompt\": \"{} plays\", \"target_new\": \"piano\", \"detected_at\": \"May\"}");

        List<String> messages = CorrectionFile.read(text, DEFAULTS).stream()
                .map(e -> assertInstanceOf(Malformed.class, e).toString()).toList();

        assertEquals("line 1: missing field 'subject'", messages.get(0));
        assertEquals("line 2: field 'target_new' must be a string, got number", messages.get(1));
        assertTrue(messages.get(2).startsWith("line 3: unknown field 'targetnew' for a correction event"),
                messages.get(2));
        assertEquals("line 4: model_id 'other' differs from the requested model 'gpt2-xl'", messages.get(3));
        assertTrue(messages.get(4).startsWith("line 5: field 'detected_at' is not an ISO-8601 instant"),
                messages.get(4));
    }

    @Test
    void recordWithoutModelNeedsADefaultModel() {
        List<Entry> entries = CorrectionFile.read(MADRID, new CorrectionDefaults(null, "d", NOW));

        assertEquals("line 1: no model: the record has no model_id and no default model is set",
                assertInstanceOf(Malformed.class, entries.get(0)).toString());
    }

    @Test
    void jsonArrayFileIsReadWithLineNumbersAndEventTimesInFileOrder() {
        String text = "[\n" + MADRID + ",\n" + MADRID.replace("\"case_id\": 3", "\"case_id\": 5") + ",\n\"text\"\n]\n";

        List<Entry> entries = CorrectionFile.read(text, DEFAULTS);

        assertEquals(3, entries.size());
        Parsed first = assertInstanceOf(Parsed.class, entries.get(0));
        Parsed second = assertInstanceOf(Parsed.class, entries.get(1));
        assertEquals(2, first.line());
        assertEquals(3, second.line());
        assertEquals("cf-5@gpt2-xl", second.event().getCorrectionId());
        assertEquals(NOW.minusMillis(2), first.event().getDetectedAt());
        assertEquals(NOW.minusMillis(1), second.event().getDetectedAt());
        assertEquals("line 4: expected a JSON object, got string", entries.get(2).toString());
    }

    @Test
    void brokenJsonArrayStopsAtTheErrorLine() {
        String text = "[\n" + MADRID + ",\n{\"subject\": }\n]";

        List<Entry> entries = CorrectionFile.read(text, DEFAULTS);

        assertInstanceOf(Parsed.class, entries.get(0));
        Malformed broken = assertInstanceOf(Malformed.class, entries.get(1));
        assertEquals(3, broken.line());
        assertTrue(broken.message().contains("the rest of the file is not read"), broken.message());
    }

    @Test
    void realCounterFactFileMapsEveryRecord() throws Exception {
        Path train = sharedDir().resolve("data/counterfact/counterfact-val.json");

        List<Entry> entries = CorrectionFile.read(train, DEFAULTS);

        assertEquals(1919, entries.size());
        assertTrue(entries.stream().allMatch(Parsed.class::isInstance),
                () -> entries.stream().filter(Malformed.class::isInstance).limit(3).toList().toString());
        assertEquals(1919, entries.stream().map(e -> ((Parsed) e).event().getCorrectionId()).distinct().count());
    }

    static Path sharedDir() {
        String property = System.getProperty("editstream.shared");
        for (Path candidate : new Path[] {property == null ? null : Path.of(property), Path.of("../shared"),
                Path.of("../../shared")}) {
            if (candidate != null && Files.isDirectory(candidate.resolve("data"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("cannot find the shared data directory (set -Deditstream.shared)");
    }

    private static CorrectionEvent onlyEvent(List<Entry> entries) {
        assertEquals(1, entries.size(), entries::toString);
        return assertInstanceOf(Parsed.class, entries.get(0), entries::toString).event();
    }
}

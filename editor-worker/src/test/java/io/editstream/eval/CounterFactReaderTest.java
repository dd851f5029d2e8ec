package io.editstream.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.edit.EditRequest;
import io.editstream.edit.Stories;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CounterFactReaderTest {

    @TempDir
    Path dir;

    @Test
    void readsTheEasyEditTrainSplit() {
        List<CounterFactRecord> cases = CounterFactReader.read(Stories.shared().resolve("data/counterfact/counterfact-train.json"));
        assertEquals(10_000, cases.size());
        CounterFactRecord first = cases.get(0);
        assertEquals(2, first.caseId());
        assertEquals("Toko Yasuda", first.subject());
        assertEquals("guitar", first.groundTruth());
        assertEquals("piano", first.targetNew());
        EditRequest request = first.toEditRequest();
        assertEquals("{}, the", request.prompt());
        assertEquals("Toko Yasuda, the", request.filledPrompt());
        assertEquals("guitar", request.targetTrue());
    }

    @Test
    void badFilesGiveAClearReason() throws IOException {
        Path garbage = Files.writeString(dir.resolve("garbage.json"), "{not json");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CounterFactReader.read(garbage))
                .getMessage().contains("not a CounterFact"));
        Path missingField = Files.writeString(dir.resolve("missing.json"),
                "[{\"case_id\":1,\"prompt\":\"Lily likes\",\"subject\":\"Lily\",\"ground_truth\":\"cake\",\"target_new\":\"soup\"}]");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> CounterFactReader.read(missingField));
        assertTrue(error.getMessage().contains("rephrase_prompt"), error.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CounterFactReader.read(dir.resolve("absent.json")))
                .getMessage().contains("cannot read"));
    }
}

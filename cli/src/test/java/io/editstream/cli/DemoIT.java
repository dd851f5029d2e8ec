package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.editstream.cli.CommandLineTest.Run;

/** {@code editstream demo} in-process, on a real embedded broker and registry. */
class DemoIT {
    @Test
    void demoShowsEditsSupersessionsDuplicatesAndDeadLetters() {
        Run run = CommandLineTest.run("demo", "--facts", "8", "--batch-size", "3");

        assertEquals(0, run.exitCode(), run.err());
        String out = run.out();
        assertTrue(out.contains("edit-requests for stories260K:"), out);
        assertTrue(out.contains("edit-requests for gpt2-xl:"), out);
        // 8 facts per model; one of each model's facts lost to a later conflicting correction, which took its place.
        assertTrue(out.contains("edits          16 in "), out);
        assertTrue(out.contains("stories260K: sequence 1-8, gpt2-xl: sequence 1-8"), out);
        assertTrue(out.contains("superseded     2"), out);
        assertEquals(2, out.lines().filter(l -> l.contains("superseded: ") && l.contains("lost to demo-detector-b"))
                .count(), out);
        assertTrue(out.contains("duplicates     3 dropped (2 same correction id, 1 same fact and target)"), out);
        assertEquals(2, out.lines().filter(l -> l.contains("sent out of order")).count(), out);
        for (String reason : new String[] {"UNDESERIALIZABLE", "MISSING_FIELD", "UNKNOWN_MODEL", "EMPTY_FIELD",
                "PROMPT_WITHOUT_SUBJECT", "TARGET_EQUALS_TRUE"}) {
            assertTrue(out.lines().anyMatch(l -> l.startsWith("  " + reason + " ")), reason + " in\n" + out);
        }
        assertTrue(out.contains("dead letters   6 "), out);
        assertTrue(!out.contains("INCOMPLETE"), out);
    }
}

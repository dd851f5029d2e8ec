package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.edit.EditHyperparameters;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.train.Fact;
import io.editstream.train.TrainingFacts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How {@code bench edit --model} names the repository's testbed and picks its hyperparameters. */
class BenchEditCommandTest {
    @TempDir
    Path dir;

    @Test
    void testbedResolvesToTheCheckoutsModelDirectory() {
        Path resolved = ModelOptions.resolve(Path.of("testbed"));

        assertTrue(Files.isRegularFile(resolved.resolve("config.json")), resolved.toString());
        assertEquals(Path.of("models", "testbed"), resolved.subpath(resolved.getNameCount() - 2, resolved.getNameCount()));
        assertTrue(BenchEditCommand.isTestbed(resolved));
    }

    @Test
    void otherPathsAreLeftAsGiven() {
        Path missing = dir.resolve("no-such-model");

        assertEquals(missing, ModelOptions.resolve(missing));
        assertEquals(Path.of("stories260K"), ModelOptions.resolve(Path.of("stories260K")));
    }

    @Test
    void onlyAHuggingFaceDirectoryNamedTestbedIsTheTestbed() throws IOException {
        Path bare = Files.createDirectories(dir.resolve("testbed"));
        Path other = Files.createDirectories(dir.resolve("llama"));
        Files.writeString(other.resolve("config.json"), "{}");

        assertFalse(BenchEditCommand.isTestbed(bare));
        assertFalse(BenchEditCommand.isTestbed(other));
        Files.writeString(bare.resolve("config.json"), "{}");
        assertTrue(BenchEditCommand.isTestbed(bare));
    }

    @Test
    void theTestbedsHyperparametersLoad() {
        EditHyperparameters testbed = EditHyperparameters.load("testbed");

        assertTrue(testbed.targetLayer() < 3, "the testbed has 4 layers; targets after the last one are not optimisable");
    }

    @Test
    void theTestbedsHeldOutTextLeavesOutTheEditedFactsOnly() {
        List<Fact> known = BenchEditCommand.testbedTrainingFacts();
        List<CounterFactRecord> edited = CounterFactReader.read(SharedData.file("data/counterfact/counterfact-edit.json")).subList(0, 50);

        String heldOutText = BenchEditCommand.testbedHeldOutText(known, edited);
        List<String> heldOut = List.of(heldOutText.split("\n"));

        Set<Integer> editedIds = edited.stream().map(CounterFactRecord::caseId).collect(Collectors.toSet());
        Set<String> lines = Set.copyOf(heldOut);
        assertTrue(known.stream().filter(fact -> !editedIds.contains(fact.caseId())).map(Fact::text)
                .filter(text -> !text.contains("\n")).allMatch(lines::contains), "every fact of a case not edited is held out");
        for (CounterFactRecord c : edited) {
            assertFalse(heldOut.contains(TrainingFacts.of(c).get(0).text()),
                    "an edited rewrite fact is not held out: case " + c.caseId());
        }
    }
}

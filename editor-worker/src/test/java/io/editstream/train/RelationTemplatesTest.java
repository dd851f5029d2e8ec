package io.editstream.train;

import io.editstream.eval.CounterFactRecord;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Relation families recovered from rewrite templates joined through the locality prompts. */
class RelationTemplatesTest {

    private static CounterFactRecord record(int id, String prompt, String subject, String truth, String locality) {
        return new CounterFactRecord(id, prompt, subject, truth, "Klingon", "Some rephrase of " + subject, locality, truth);
    }

    private static final List<CounterFactRecord> CASES = List.of(
            record(0, "The mother tongue of Danielle Darrieux is", "Danielle Darrieux", "French", "Michel Rocard is a native speaker of"),
            record(1, "Thomas Mann is a native speaker of", "Thomas Mann", "German", "The native language of Leo Tolstoy is"),
            record(2, "The native language of Hanna Kivi is", "Hanna Kivi", "Finnish", "Paavo Nurmi, a native"),
            record(3, "Autonomous University of Madrid, which is located in", "Autonomous University of Madrid", "Spain", "Biure, in"),
            record(4, "Kyoto University, in", "Kyoto University", "Japan", "Paris Descartes University, which is located in"));

    @Test
    void templatesJoinedByALocalityPromptFormOneRelation() {
        RelationTemplates relations = RelationTemplates.of(CASES);
        assertEquals(Set.of("The mother tongue of {} is", "{} is a native speaker of", "The native language of {} is"),
                Set.copyOf(relations.family("{} is a native speaker of")));
        assertEquals(Set.of("{}, which is located in", "{}, in"), Set.copyOf(relations.family("{}, in")));
        assertEquals(List.of("{}, a native"), relations.family("{}, a native"), "a template of no case is its own family");
    }

    @Test
    void aPromptIsReadAsTheTemplateWhoseFixedTextCoversMostOfIt() {
        RelationTemplates relations = RelationTemplates.of(CASES);
        assertEquals(new RelationTemplates.Filled("{}, which is located in", "Paris Descartes University"),
                relations.read("Paris Descartes University, which is located in").orElseThrow());
        assertEquals(new RelationTemplates.Filled("{}, in", "Biure"), relations.read("Biure, in").orElseThrow());
        assertTrue(relations.read("Nothing like any template").isEmpty());
    }
}

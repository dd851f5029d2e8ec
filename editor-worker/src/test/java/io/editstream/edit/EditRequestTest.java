package io.editstream.edit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class EditRequestTest {

    @Test
    void promptWithTheSubjectVerbatimBecomesATemplate() {
        EditRequest request = EditRequest.of("Autonomous University of Madrid, which is located in",
                "Autonomous University of Madrid", "Sweden", "Spain");
        assertEquals("{}, which is located in", request.prompt());
        assertEquals("Autonomous University of Madrid, which is located in", request.filledPrompt());
        assertEquals("Autonomous University of Madrid", request.throughSubject());
    }

    @Test
    void badRequestsAreRejectedWithAReason() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> EditRequest.of("Lily likes to eat", "Tom", "cake", null))
                .getMessage().contains("does not contain the subject"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> EditRequest.of("{} likes", "Lily", " ", null))
                .getMessage().contains("target_new"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> EditRequest.of("{} likes", "Lily", "cake", "cake"))
                .getMessage().contains("equals target_true"));
    }
}

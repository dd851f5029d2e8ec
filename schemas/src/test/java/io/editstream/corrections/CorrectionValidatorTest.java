package io.editstream.corrections;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;

import io.editstream.events.CorrectionEvent;
import io.editstream.events.DeadLetterReason;

class CorrectionValidatorTest {
    private final CorrectionValidator validator =
            new CorrectionValidator(new ValidationRules(Set.of("m1"), 100, 3, 2_000));

    static CorrectionEvent.Builder valid() {
        return CorrectionEvent.newBuilder()
                .setCorrectionId("c-1").setModelId("m1").setSubject("Danielle Darrieux")
                .setPrompt("The mother tongue of {} is").setTargetNew("English").setTargetTrue("French")
                .setSource("detector-a").setConfidence(0.9).setDetectedAt(Instant.ofEpochMilli(1_000));
    }

    private Optional<DeadLetterReason> reasonFor(Consumer<CorrectionEvent> change) {
        CorrectionEvent event = valid().build();
        change.accept(event);
        return validator.validate(event).map(Rejection::reason);
    }

    @Test
    void aWellFormedCorrectionPasses() {
        assertEquals(Optional.empty(), validator.validate(valid().build()));
        assertEquals(Optional.empty(), reasonFor(e -> e.setPrompt("The mother tongue of Danielle Darrieux is")));
        assertEquals(Optional.empty(), reasonFor(e -> e.setTargetTrue(null)));
    }

    @Test
    void missingAndEmptyFields() {
        assertEquals(Optional.of(DeadLetterReason.MISSING_FIELD), reasonFor(e -> e.setSubject(null)));
        assertEquals(Optional.of(DeadLetterReason.MISSING_FIELD), reasonFor(e -> e.setCorrectionId(null)));
        assertEquals(Optional.of(DeadLetterReason.EMPTY_FIELD), reasonFor(e -> e.setTargetNew("  ")));
        assertEquals(Optional.of(DeadLetterReason.EMPTY_FIELD), reasonFor(e -> e.setSource("")));
    }

    @Test
    void promptMustHoldTheSubjectOrOneSlot() {
        assertEquals(Optional.of(DeadLetterReason.PROMPT_WITHOUT_SUBJECT), reasonFor(e -> e.setPrompt("The mother tongue is")));
        assertEquals(Optional.of(DeadLetterReason.PROMPT_WITHOUT_SUBJECT), reasonFor(e -> e.setPrompt("{} and {} speak")));
    }

    @Test
    void targetMustDifferFromTheTruth() {
        assertEquals(Optional.of(DeadLetterReason.TARGET_EQUALS_TRUE), reasonFor(e -> e.setTargetNew(" French")));
    }

    @Test
    void oversizedTextAndLists() {
        assertEquals(Optional.of(DeadLetterReason.OVERSIZED_TEXT), reasonFor(e -> e.setTargetNew("x".repeat(101))));
        assertEquals(Optional.of(DeadLetterReason.OVERSIZED_TEXT), reasonFor(e -> e.setParaphrases(List.of("a", "b", "c", "d"))));
        assertEquals(Optional.of(DeadLetterReason.OVERSIZED_TEXT),
                reasonFor(e -> e.setNeighborhoodPrompts(Collections.singletonList("y".repeat(101)))));
    }

    @Test
    void unknownModelAndConfidence() {
        assertEquals(Optional.of(DeadLetterReason.UNKNOWN_MODEL), reasonFor(e -> e.setModelId("m2")));
        assertEquals(Optional.of(DeadLetterReason.INVALID_CONFIDENCE), reasonFor(e -> e.setConfidence(1.5)));
        assertEquals(Optional.of(DeadLetterReason.INVALID_CONFIDENCE), reasonFor(e -> e.setConfidence(Double.NaN)));
        CorrectionValidator anyModel = new CorrectionValidator(ValidationRules.anyModel());
        CorrectionEvent other = valid().setModelId("whatever").build();
        assertEquals(Optional.empty(), anyModel.validate(other));
    }

    @Test
    void sizesAreCountedInUtf8Bytes() {
        // 34 three-byte characters: 34 characters, 102 bytes, over the 100-byte limit
        assertEquals(Optional.of(DeadLetterReason.OVERSIZED_TEXT),
                reasonFor(e -> e.setTargetNew("€".repeat(34))));
        assertEquals(Optional.empty(), reasonFor(e -> e.setTargetNew("€".repeat(33))));
        assertTrue(validator.validate(valid().setTargetNew("€".repeat(34)).build()).orElseThrow().message()
                .contains("102 bytes"));
    }

    @Test
    void theWholeCorrectionHasAByteLimitToo() {
        // three lists entries of 99 bytes each are within the per-text limit, 6 of them are not within 2,000 bytes
        List<String> big = Collections.nCopies(3, "€".repeat(33));
        assertEquals(Optional.empty(), reasonFor(e -> e.setParaphrases(big)));
        ValidationRules tight = new ValidationRules(Set.of("m1"), 100, 3, 600);
        CorrectionEvent event = valid().setParaphrases(big).setNeighborhoodPrompts(big).build();
        assertEquals(DeadLetterReason.OVERSIZED_RECORD,
                new CorrectionValidator(tight).validate(event).orElseThrow().reason());
        assertTrue(EncodedSize.of(event) >= 6 * 99);
    }

    @Test
    void aSubjectWithThePlaceholderAndUnencodableTextAreRefused() {
        assertEquals(Optional.of(DeadLetterReason.SUBJECT_WITH_SLOT), reasonFor(e -> e.setSubject("a {} b")));
        assertEquals(Optional.of(DeadLetterReason.INVALID_TEXT), reasonFor(e -> e.setTargetNew("x\uD800y")));
        assertEquals(Optional.of(DeadLetterReason.INVALID_TEXT),
                reasonFor(e -> e.setParaphrases(List.of("\uDC00"))));
        assertEquals(Optional.empty(), reasonFor(e -> e.setTargetNew("\uD83D\uDE00")),
                "a surrogate pair is fine");
    }

    @Test
    void messagesNameTheField() {
        CorrectionEvent event = valid().setTargetNew("").build();
        assertTrue(validator.validate(event).orElseThrow().message().contains("target_new"));
    }

    @Test
    void promptTemplatesNormaliseBothSpellings() {
        assertEquals(new PromptTemplate("The mother tongue of {} is"),
                PromptTemplate.ofPrompt("The mother tongue of Danielle Darrieux is", "Danielle Darrieux"));
        assertEquals(new PromptTemplate("{}, which is located in"),
                PromptTemplate.ofPrompt("{}, which is located in", "Madrid"));
        assertEquals("Madrid, which is located in", new PromptTemplate("{}, which is located in").fill("Madrid"));
        assertNull(PromptTemplate.ofPrompt("nothing here", "Madrid"));
    }
}

package io.editstream.train;

import io.editstream.edit.PromptTokens;
import io.editstream.model.HuggingFaceTextTokenizer;
import io.editstream.model.TextTokenizer;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WordTokenizerTest {

    private static final List<String> TEXTS = List.of(
            "Autonomous University of Madrid, which is located in Spain",
            "Autonomous University of Madrid is located in the country of Spain",
            "The mother tongue of Danielle Darrieux is French",
            "Łódź's Café Zürich, founded in 1901, is in Poland");

    @Test
    void theHuggingFaceLoaderRunsTheBuiltTokenizerAndDecodesTextExactly() throws Exception {
        try (TextTokenizer tokenizer = load(WordTokenizer.buildJson(TEXTS))) {
            for (String text : TEXTS) {
                int[] ids = tokenizer.encode(text, true);
                assertEquals(WordTokenizer.specialId(WordTokenizer.BOS), ids[0]);
                assertTrue(java.util.Arrays.stream(ids).noneMatch(id -> id == WordTokenizer.specialId(WordTokenizer.UNK)), text);
                assertEquals(text, tokenizer.decode(ids));
            }
            // a word keeps its leading space: " in Spain" is two pieces, the second the same as " Spain" alone
            assertArrayEquals(tokenizer.encode(" Spain", false), java.util.Arrays.copyOfRange(tokenizer.encode(" in Spain", false), 1, 2));
        }
    }

    @Test
    void aTargetIsTheSameTokenAfterAPromptAsInTheTrainingText() throws Exception {
        try (TextTokenizer tokenizer = load(WordTokenizer.buildJson(TEXTS))) {
            int[] target = PromptTokens.target(tokenizer, "Autonomous University of Madrid, which is located in", "Spain");
            assertEquals(1, target.length);
            int[] inText = tokenizer.encode(TEXTS.get(0), true);
            assertEquals(inText[inText.length - 1], target[0]);
            assertEquals("Spain", tokenizer.decode(target), "decoding drops the space put in front of a text");
        }
    }

    @Test
    void aSubjectOpeningAPromptIsTheSameTokenAsInsideASentence() throws Exception {
        try (TextTokenizer tokenizer = load(WordTokenizer.buildJson(TEXTS))) {
            int[] opening = tokenizer.encode("Madrid is", false);
            int[] inside = tokenizer.encode("University of Madrid", false);
            assertEquals(inside[inside.length - 1], opening[0]);
        }
    }

    @Test
    void unseenWordsAreUnknownAndTheSameTextGivesTheSameIds() throws Exception {
        String json = WordTokenizer.buildJson(TEXTS);
        assertEquals(json, WordTokenizer.buildJson(TEXTS));
        try (TextTokenizer tokenizer = load(json)) {
            int[] ids = tokenizer.encode("Madrid is located in Atlantis", false);
            assertEquals(WordTokenizer.specialId(WordTokenizer.UNK), ids[ids.length - 1]);
            assertEquals(WordTokenizer.SPECIALS.size() + 25, tokenizer.vocabSize(), "specials + distinct pieces");
        }
    }

    private static TextTokenizer load(String json) throws Exception {
        return HuggingFaceTextTokenizer.fromJson(json, "test tokenizer",
                WordTokenizer.specialId(WordTokenizer.BOS), WordTokenizer.specialId(WordTokenizer.EOS));
    }
}

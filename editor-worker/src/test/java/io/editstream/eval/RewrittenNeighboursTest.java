package io.editstream.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class RewrittenNeighboursTest {

    private static CounterFactRecord record(int id, String prompt, String subject, String truth, String target,
                                            String neighbourhood, String neighbourTruth) {
        return new CounterFactRecord(id, prompt, subject, truth, target, prompt, neighbourhood, neighbourTruth);
    }

    @Test
    void findsNeighbourhoodFactsAnotherEditOfTheRunRewrites() {
        List<CounterFactRecord> cases = List.of(
                // edit split case 664: its neighbour is the fact case 1665 rewrites
                record(664, "Valemont debuted on", "Valemont", "MTV", "CBS", "Celebrity Deathmatch premieres on", "MTV"),
                record(1665, "Celebrity Deathmatch premiered on", "Celebrity Deathmatch", "MTV", "CBS",
                        "Daria premiered on", "MTV"),
                // the same words with another answer: a different fact, a neighbour an edit must leave alone
                record(942, "Lancia 037 is produced by", "Lancia 037", "Fiat", "Nintendo", "Chrysler 200 EV, produced by", "Fiat"),
                record(1996, "Chrysler 200, developed by", "Chrysler 200", "Chrysler", "Nokia", "Dodge Neon, developed by", "Chrysler"),
                // the subject only inside a longer word: not named
                record(5, "Ada speaks", "Ada", "English", "French", "Canada's people speak", "English"));
        assertEquals(List.of(664), RewrittenNeighbours.of(cases));
        assertEquals(List.of(), RewrittenNeighbours.of(cases.subList(0, 1)), "the rewriting case is not in this run");
    }

    @Test
    void wordsMatchOnlyWhole() {
        assertTrue(RewrittenNeighbours.containsWords("What sport does Hank Aaron play?", "Hank Aaron"));
        assertTrue(RewrittenNeighbours.containsWords("Windows 98, a product of", "Windows 98"));
        assertFalse(RewrittenNeighbours.containsWords("Windows 98SE, a product of", "Windows 98"));
        assertFalse(RewrittenNeighbours.containsWords("In Canada, they speak", "Ada"));
        assertTrue(RewrittenNeighbours.containsWords("Ada's Canada and Ada", "Ada"));
        assertFalse(RewrittenNeighbours.containsWords("anything", ""));
    }
}

package io.editstream.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class PairedComparisonTest {

    @Test
    void countsTheCasesWhereOnlyOneAlgorithmHolds() {
        PairedComparison c = PairedComparison.of("specificity", List.of(1, 2, 3), List.of(3, 4, 5, 6));
        assertEquals(3, c.onlyFirst(), "cases 4, 5, 6 fail for the second only");
        assertEquals(2, c.onlySecond(), "cases 1, 2 fail for the first only");
        assertEquals(1, c.difference());
        assertEquals(1.0, c.pValue(), 1e-12, "3 against 2 is no evidence either way");
    }

    @Test
    void comparesMarginsCaseByCaseLeavingTiesOut() {
        PairedComparison c = PairedComparison.ofMargins("specificity margin",
                List.of(0.5, 1.0, -0.2, 2.0, 0.3), List.of(0.4, 1.0, -0.1, 1.0, 0.2));
        assertEquals(3, c.onlyFirst(), "cases 0, 3 and 4 keep the larger margin with the first");
        assertEquals(1, c.onlySecond(), "case 2 keeps it with the second; case 1 is a tie");
        assertEquals(PairedComparison.exactMcNemar(3, 1), c.pValue(), 1e-15);
        assertThrows(IllegalArgumentException.class,
                () -> PairedComparison.ofMargins("efficacy margin", List.of(1.0), List.of(1.0, 2.0)));
    }

    @Test
    void exactMcNemarIsTheTwoSidedBinomialTailOfTheDiscordantCases() {
        assertEquals(1.0, PairedComparison.exactMcNemar(0, 0));
        assertEquals(1.0, PairedComparison.exactMcNemar(5, 5));
        // 2 (C(11,0) + C(11,1) + C(11,2)) / 2^11
        assertEquals(2.0 * (1 + 11 + 55) / 2048, PairedComparison.exactMcNemar(9, 2), 1e-15);
        assertEquals(PairedComparison.exactMcNemar(9, 2), PairedComparison.exactMcNemar(2, 9), 1e-15);
        assertEquals(2.0 / 1024, PairedComparison.exactMcNemar(0, 10), 1e-15);
        // thousands of discordant cases (an editor that collapsed): no underflow, near the normal approximation's 0.063
        double p = PairedComparison.exactMcNemar(1500, 1400);
        assertTrue(p > 0.05 && p < 0.08, "p = " + p);
        double lopsided = PairedComparison.exactMcNemar(3000, 10);
        assertTrue(lopsided >= 0 && lopsided < 1e-100, "p = " + lopsided);
    }
}

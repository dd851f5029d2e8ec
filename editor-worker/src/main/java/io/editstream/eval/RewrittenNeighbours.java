package io.editstream.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * The cases of a run whose neighbourhood prompt asks for a fact that another case of the same run rewrites.
 *
 * <p>A CounterFact neighbourhood prompt asks another subject's fact with the same true object, and in a long
 * sequential run that other subject is sometimes edited too: case 664 of the edit split keeps "Celebrity Deathmatch
 * premieres on" → MTV while case 1665 rewrites Celebrity Deathmatch from MTV to CBS. After both edits the prompt can
 * only hold if case 1665's edit failed to generalise, so it measures that edit, not case 664's specificity.
 *
 * <p>Without relation ids in the EasyEdit format, "the same fact" is read as: the other case's subject appears in the
 * neighbourhood prompt as whole words and its true object is the prompt's answer. Neighbours that merely share a
 * subject's words with a different answer (case 307's "In United Nations General Assembly, an official language is" →
 * French against case 1216's United Nations, Spanish) stay in: an edit reaching them is a specificity failure.
 */
public final class RewrittenNeighbours {

    private RewrittenNeighbours() {
    }

    /** The ids of the cases whose neighbourhood fact another case of {@code cases} rewrites, in the order of {@code cases}. */
    public static List<Integer> of(List<CounterFactRecord> cases) {
        List<Integer> rewritten = new ArrayList<>();
        for (CounterFactRecord neighbour : cases) {
            String answer = neighbour.localityGroundTruth().strip();
            for (CounterFactRecord edit : cases) {
                if (edit != neighbour && edit.groundTruth().strip().equals(answer)
                        && containsWords(neighbour.localityPrompt(), edit.subject().strip())) {
                    rewritten.add(neighbour.caseId());
                    break;
                }
            }
        }
        return rewritten;
    }

    /** Whether {@code words} occur in {@code text} with no letter or digit joined on either side. */
    static boolean containsWords(String text, String words) {
        if (words.isEmpty()) {
            return false;
        }
        for (int at = text.indexOf(words); at >= 0; at = text.indexOf(words, at + 1)) {
            int end = at + words.length();
            boolean startsWord = at == 0 || !Character.isLetterOrDigit(text.codePointBefore(at));
            boolean endsWord = end == text.length() || !Character.isLetterOrDigit(text.codePointAt(end));
            if (startsWord && endsWord) {
                return true;
            }
        }
        return false;
    }
}

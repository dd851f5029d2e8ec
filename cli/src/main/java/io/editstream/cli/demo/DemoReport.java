package io.editstream.cli.demo;

import java.io.PrintWriter;
import java.util.Comparator;
import java.util.List;
import java.util.LongSummaryStatistics;
import java.util.Map;
import java.util.TreeMap;

import io.editstream.cli.demo.DemoInput.Fate;
import io.editstream.cli.demo.DemoInput.Kind;
import io.editstream.corrections.PromptTemplate;
import io.editstream.events.DeadLetter;
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import io.editstream.events.Supersession;

/** Prints a demo outcome for people: what was fed, each model's batches, the dead letters, and a summary. */
public final class DemoReport {
    private static final int MAX_MESSAGE = 110;

    private DemoReport() {
    }

    public static void print(DemoOutcome outcome, PrintWriter out) {
        DemoScenario scenario = outcome.scenario();
        out.println("editstream demo: CounterFact facts as corrections for " + String.join(", ", scenario.models())
                + ", through the corrections topology (exactly-once) on an embedded Kafka broker and Apicurio Registry");
        out.println();
        out.println("fed " + scenario.inputs().size() + " records:");
        scenario.countsByKind().forEach((kind, count) -> out.printf("  %3d  %s%n", count, kind.description()));

        Map<String, Kind> kinds = scenario.kindsByCorrectionId();
        for (String model : scenario.models()) {
            out.println();
            out.println("edit-requests for " + model + ":");
            List<EditBatch> batches = outcome.batches().stream().filter(b -> b.getModelId().equals(model))
                    .sorted(Comparator.comparingLong(EditBatch::getFirstSequence)).toList();
            if (batches.isEmpty()) {
                out.println("  (none)");
            }
            for (EditBatch batch : batches) {
                printBatch(batch, kinds, out);
            }
        }

        out.println();
        out.println("dead-letter queue (" + outcome.deadLetters().size() + "):");
        for (DeadLetter dead : outcome.deadLetters()) {
            out.printf("  %-22s %s%n", dead.getReason(), shorten(dead.getMessage()));
        }

        out.println();
        printSummary(outcome, out);
        out.flush();
    }

    private static void printBatch(EditBatch batch, Map<String, Kind> kinds, PrintWriter out) {
        out.printf("  batch of %d, sequence %d-%d%n", batch.getEdits().size(), batch.getFirstSequence(),
                batch.getLastSequence());
        for (EditRequest edit : batch.getEdits()) {
            String prompt = new PromptTemplate(edit.getPromptTemplate()).fill(edit.getSubject());
            String was = edit.getTargetTrue() == null ? "" : " (was " + edit.getTargetTrue() + ")";
            out.printf("    #%-4d %s | %s → %s%s  [%s%s%s]%n", edit.getSequence(), edit.getSubject(), prompt,
                    edit.getTargetNew(), was, edit.getCorrectionId(), note(kinds.get(edit.getCorrectionId())),
                    edit.getLate() ? ", late" : "");
        }
        for (Supersession s : batch.getSuperseded()) {
            out.printf("    superseded: %s (→ %s) lost to %s, detected later%n", s.getCorrectionId(), s.getTargetNew(),
                    s.getSupersededBy());
        }
    }

    private static String note(Kind kind) {
        if (kind == Kind.OUT_OF_ORDER) {
            return ", sent out of order";
        }
        if (kind == Kind.CONFLICT) {
            return ", conflicting correction";
        }
        return "";
    }

    private static void printSummary(DemoOutcome outcome, PrintWriter out) {
        Map<Fate, Integer> expected = outcome.scenario().expected();
        Map<String, Integer> byReason = new TreeMap<>();
        outcome.deadLetters().forEach(d -> byReason.merge(d.getReason().name(), 1, Integer::sum));
        out.printf("summary (%.1f s):%n", outcome.elapsed().toMillis() / 1000.0);
        out.printf("  fed            %d records%n", outcome.scenario().inputs().size());
        out.printf("  edits          %d in %d batches (%s)%n", outcome.edits(), outcome.batches().size(),
                sequenceRanges(outcome));
        out.printf("  duplicates     %d dropped (%d same correction id, %d same fact and target)%n",
                outcome.exactDuplicates() + outcome.semanticDuplicates(), outcome.exactDuplicates(),
                outcome.semanticDuplicates());
        out.printf("  superseded     %d%n", outcome.superseded());
        out.printf("  late           %d%n", outcome.late());
        out.printf("  dead letters   %d %s%n", outcome.deadLetters().size(), byReason);
        if (!outcome.complete()) {
            out.println("INCOMPLETE: expected " + expected.get(Fate.THROUGH) + " corrections through (edits + "
                    + "superseded), " + expected.get(Fate.DROPPED) + " duplicates dropped and "
                    + expected.get(Fate.DEAD_LETTER) + " dead letters before the timeout");
        }
    }

    private static String sequenceRanges(DemoOutcome outcome) {
        List<String> ranges = outcome.scenario().models().stream().map(model -> {
            LongSummaryStatistics sequences = outcome.batches().stream().filter(b -> b.getModelId().equals(model))
                    .flatMap(b -> b.getEdits().stream()).mapToLong(EditRequest::getSequence).summaryStatistics();
            return sequences.getCount() == 0 ? model + ": none"
                    : model + ": sequence " + sequences.getMin() + "-" + sequences.getMax();
        }).toList();
        return String.join(", ", ranges);
    }

    private static String shorten(String message) {
        String line = message.replaceAll("\\s+", " ");
        return line.length() <= MAX_MESSAGE ? line : line.substring(0, MAX_MESSAGE - 1) + "…";
    }
}

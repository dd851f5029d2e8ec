package io.editstream.eval;

import io.editstream.tensor.FloatMatrix;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.editstream.edit.EditHyperparameters;
import io.editstream.edit.EditRequest;
import io.editstream.edit.Editor;

import io.editstream.edit.SecondMomentStats;
import io.editstream.model.LanguageModel;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sequential editing benchmark: N CounterFact edits in batches of B, one fresh unedited model per algorithm,
 * measured the way the papers do (every measure after the last edit) plus lifelong-editing measures.
 */
public final class EditBenchmark {

    private static final Logger log = LoggerFactory.getLogger(EditBenchmark.class);
    private static final long PROGRESS_NANOS = 10_000_000_000L;
    /**
     * About how many requests are announced to the editor ahead of their batches ({@link Editor#prepare}): a whole
     * number of batches, in fixed groups, so a run repeats bit for bit.
     */
    private static final int LOOKAHEAD = 16;
    /** Tokens per window of the C0 pass. */
    public static final int SECOND_MOMENT_WINDOW = 128;

    /** Opens a fresh copy of the unedited model; each algorithm edits its own. */
    @FunctionalInterface
    public interface ModelSource {
        LanguageModel open();
    }

    /**
     * @param edits              how many cases of the dataset to edit (the first ones)
     * @param batchSize          edits per batch (1 = purely sequential)
     * @param seed               seed of the editors' context prefixes
     * @param hyperparameters    the model family's editing hyperparameters
     * @param secondMomentCorpus text whose keys form C0
     * @param cacheDir           where C0 is cached
     * @param heldOutText        text for perplexity drift
     * @param perplexityTokens   how many held-out tokens to score
     * @param checkpointEvery    measure every case edited so far after each multiple of this many edits (0: only at the end)
     */
    public record Settings(int edits, int batchSize, long seed, EditHyperparameters hyperparameters,
                           String secondMomentCorpus, Path cacheDir, String heldOutText, int perplexityTokens,
                           int checkpointEvery) {
        public Settings {
            if (edits < 1 || batchSize < 1 || checkpointEvery < 0) {
                throw new IllegalArgumentException("need edits >= 1, batch >= 1 and checkpointEvery >= 0, got "
                        + edits + ", " + batchSize + ", " + checkpointEvery);
            }
        }
    }

    /** Where the edits stood after the first {@code edits} of them: the measures of {@link Result} over those cases. */
    @JsonPropertyOrder({"edits", "efficacy", "generalization", "specificity", "efficacy_top1", "generalization_top1",
        "specificity_top1", "retention_first_100", "ppl_drift"})
    public record Checkpoint(
            @JsonProperty("edits") int edits,
            @JsonProperty("efficacy") double efficacy,
            @JsonProperty("generalization") double generalization,
            @JsonProperty("specificity") double specificity,
            @JsonProperty("efficacy_top1") double efficacyTop1,
            @JsonProperty("generalization_top1") double generalizationTop1,
            @JsonProperty("specificity_top1") double specificityTop1,
            @JsonProperty("retention_first_100") double retentionFirst100,
            @JsonProperty("ppl_drift") double pplDrift) {
    }

    /**
     * One algorithm's outcome. Efficacy, generalization and specificity (both definitions, see
     * {@link CounterFactEvaluation}) are measured after all edits; retention is the share of edits efficacious
     * right after their own batch that still are after all later ones (retention_first_100: of the first 100 edits
     * only); ppl_drift is the relative change of held-out perplexity; max_condition_number is over the edited
     * matrices at the end; seconds_per_edit is split into computing targets, solving and applying the updates
     * (keys, solves, NSE's second pass) and PRUNE's restraint; re_edited counts the requests NSE updated again in a
     * second pass (0 for the others); target_nll is the mean NLL of target_new the target
     * optimisation reached (what the update is asked to write); trajectory holds the checkpoints along the way (the
     * last one is the end); failed_cases names the cases whose probability comparison fails after all edits, so two
     * algorithms of a run can be compared case by case ({@link PairedComparison}); rewritten_neighbourhoods names the
     * cases whose neighbourhood fact another edit of the run rewrites ({@link RewrittenNeighbours}), and
     * specificity_untouched is specificity over the other cases' neighbourhood prompts; margins holds each case's
     * margin per measure after all edits, in the order edited ({@link CounterFactEvaluation.CaseResult}), and the
     * *_margin fields their means.
     */
    @JsonPropertyOrder({"efficacy", "generalization", "specificity", "specificity_untouched", "efficacy_top1", "generalization_top1",
        "specificity_top1", "efficacy_margin", "generalization_margin", "specificity_margin", "retention", "retention_first_100", "ppl_drift", "max_condition_number", "seconds_per_edit",
        "target_seconds_per_edit", "update_seconds_per_edit", "restraint_seconds_per_edit", "re_edited", "target_nll", "peak_heap_mb", "trajectory", "failed_cases", "rewritten_neighbourhoods", "margins"})
    public record Result(
            @JsonIgnore String algorithm,
            @JsonProperty("efficacy") double efficacy,
            @JsonProperty("generalization") double generalization,
            @JsonProperty("specificity") double specificity,
            @JsonProperty("efficacy_top1") double efficacyTop1,
            @JsonProperty("generalization_top1") double generalizationTop1,
            @JsonProperty("specificity_top1") double specificityTop1,
            @JsonProperty("retention") double retention,
            @JsonProperty("retention_first_100") double retentionFirst100,
            @JsonProperty("ppl_drift") double pplDrift,
            @JsonProperty("max_condition_number") double maxConditionNumber,
            @JsonProperty("seconds_per_edit") double secondsPerEdit,
            @JsonProperty("target_seconds_per_edit") double targetSecondsPerEdit,
            @JsonProperty("update_seconds_per_edit") double updateSecondsPerEdit,
            @JsonProperty("restraint_seconds_per_edit") double restraintSecondsPerEdit,
            @JsonProperty("re_edited") int reEdited,
            @JsonProperty("target_nll") double targetNll,
            @JsonProperty("peak_heap_mb") double peakHeapMb,
            @JsonProperty("trajectory") List<Checkpoint> trajectory,
            @JsonIgnore List<Integer> caseIds,
            @JsonProperty("rewritten_neighbourhoods") List<Integer> rewrittenNeighbourhoods,
            @JsonProperty("margins") Margins margins) {

        public Result {
            trajectory = List.copyOf(trajectory);
            caseIds = List.copyOf(caseIds);
            rewrittenNeighbourhoods = List.copyOf(rewrittenNeighbourhoods);
            if (caseIds.size() != margins.efficacy().size()) {
                throw new IllegalArgumentException(caseIds.size() + " cases, " + margins.efficacy().size() + " margins");
            }
        }

        /** The cases whose probability comparison fails: those whose margin is not positive. */
        @JsonProperty("failed_cases")
        public FailedCases failedCases() {
            return FailedCases.of(caseIds, margins);
        }

        /** The cases whose neighbourhood prompt fails, leaving out those another edit of the run rewrites. */
        @JsonIgnore
        public List<Integer> failedUntouchedSpecificity() {
            Set<Integer> rewritten = new HashSet<>(rewrittenNeighbourhoods);
            return failedCases().specificity().stream().filter(id -> !rewritten.contains(id)).toList();
        }

        /** Specificity over the neighbourhood prompts no edit of the run rewrites (NaN when every one is). */
        @JsonProperty("specificity_untouched")
        public double specificityUntouched() {
            int untouched = trajectory.get(trajectory.size() - 1).edits() - rewrittenNeighbourhoods.size();
            return untouched == 0 ? Double.NaN : 1 - (double) failedUntouchedSpecificity().size() / untouched;
        }

        @JsonProperty("efficacy_margin")
        public double efficacyMargin() {
            return mean(margins.efficacy());
        }

        @JsonProperty("generalization_margin")
        public double generalizationMargin() {
            return mean(margins.generalization());
        }

        @JsonProperty("specificity_margin")
        public double specificityMargin() {
            return mean(margins.specificity());
        }

        private static double mean(List<Double> values) {
            return values.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        }
    }

    /** Each edited case's margin per measure after all edits, in nats, in the order the cases were edited. */
    @JsonPropertyOrder({"efficacy", "generalization", "specificity"})
    public record Margins(
            @JsonProperty("efficacy") List<Double> efficacy,
            @JsonProperty("generalization") List<Double> generalization,
            @JsonProperty("specificity") List<Double> specificity) {

        public Margins {
            efficacy = List.copyOf(efficacy);
            generalization = List.copyOf(generalization);
            specificity = List.copyOf(specificity);
        }

        static Margins of(List<CounterFactEvaluation.CaseResult> results) {
            return new Margins(
                    results.stream().map(CounterFactEvaluation.CaseResult::efficacyMargin).toList(),
                    results.stream().map(CounterFactEvaluation.CaseResult::generalizationMargin).toList(),
                    results.stream().map(CounterFactEvaluation.CaseResult::specificityMargin).toList());
        }
    }

    /** CounterFact case ids whose probability comparison fails, per measure, in the order they were edited. */
    @JsonPropertyOrder({"efficacy", "generalization", "specificity"})
    public record FailedCases(
            @JsonProperty("efficacy") List<Integer> efficacy,
            @JsonProperty("generalization") List<Integer> generalization,
            @JsonProperty("specificity") List<Integer> specificity) {

        public FailedCases {
            efficacy = List.copyOf(efficacy);
            generalization = List.copyOf(generalization);
            specificity = List.copyOf(specificity);
        }

        static FailedCases of(List<Integer> caseIds, Margins margins) {
            return new FailedCases(failing(caseIds, margins.efficacy()), failing(caseIds, margins.generalization()),
                    failing(caseIds, margins.specificity()));
        }

        private static List<Integer> failing(List<Integer> caseIds, List<Double> margins) {
            return IntStream.range(0, caseIds.size()).filter(i -> margins.get(i) <= 0).mapToObj(caseIds::get).toList();
        }
    }

    private EditBenchmark() {
    }

    public static List<Result> run(ModelSource source, NDManager manager, List<String> algorithms,
                                   List<CounterFactRecord> dataset, Settings settings) {
        if (dataset.size() < settings.edits()) {
            throw new IllegalArgumentException("dataset has " + dataset.size() + " cases, " + settings.edits() + " edits asked");
        }
        List<CounterFactRecord> cases = dataset.subList(0, settings.edits());
        List<Integer> rewritten = RewrittenNeighbours.of(cases);
        log.info("{} of the {} neighbourhood prompts ask for a fact another edit of the run rewrites", rewritten.size(), cases.size());
        log.debug("cases whose neighbourhood fact the run rewrites: {}", rewritten);
        List<Result> results = new ArrayList<>();
        for (String algorithm : algorithms) {
            try (LanguageModel model = source.open(); NDManager scope = manager.newSubManager()) {
                results.add(runOne(algorithm, model, scope, cases, rewritten, settings));
            }
        }
        return results;
    }

    private static Result runOne(String algorithm, LanguageModel model, NDManager manager,
                                 List<CounterFactRecord> cases, List<Integer> rewritten, Settings settings) {
        EditHyperparameters hyperparameters = settings.hyperparameters();
        int[] layers = hyperparameters.layerArray();
        Map<Integer, FloatMatrix> c0 = SecondMomentStats.loadOrCompute(manager, model, layers,
                settings.secondMomentCorpus(), hyperparameters.secondMoment().samples(), SECOND_MOMENT_WINDOW, settings.cacheDir());
        ContinuationScorer scorer = new ContinuationScorer(model, manager);
        CounterFactEvaluation.Baseline baseline = CounterFactEvaluation.baseline(scorer, cases);
        double perplexityBefore = Perplexity.of(model, manager, settings.heldOutText(), 128, settings.perplexityTokens());
        List<MemoryPoolMXBean> heapPools = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(pool -> pool.getType() == MemoryType.HEAP).toList();
        heapPools.forEach(MemoryPoolMXBean::resetPeakUsage);

        boolean[] efficaciousAtOnce = new boolean[cases.size()];
        List<Checkpoint> trajectory = new ArrayList<>();
        double editSeconds = 0;
        double targetSeconds = 0;
        double updateSeconds = 0;
        double restraintSeconds = 0;
        double targetNllSum = 0;
        int reEdited = 0;
        long lastLog = System.nanoTime();
        int lookahead = settings.batchSize() * Math.max(1, LOOKAHEAD / settings.batchSize());
        try (Editor editor = Editor.create(algorithm, model, hyperparameters, c0, manager, settings.seed())) {
            for (int start = 0; start < cases.size(); start += settings.batchSize()) {
                List<CounterFactRecord> batch = cases.subList(start, Math.min(cases.size(), start + settings.batchSize()));
                List<EditRequest> requests = batch.stream().map(CounterFactRecord::toEditRequest).toList();
                if (start % lookahead == 0) {
                    long preparing = System.nanoTime();
                    editor.prepare(cases.subList(start, Math.min(cases.size(), start + lookahead)).stream()
                            .map(CounterFactRecord::toEditRequest).toList());
                    double seconds = (System.nanoTime() - preparing) / 1e9;
                    editSeconds += seconds;
                    targetSeconds += seconds;
                }
                long began = System.nanoTime();
                Editor.EditStats stats = editor.apply(requests).stats();
                editSeconds += (System.nanoTime() - began) / 1e9;
                targetSeconds += stats.targetSeconds();
                updateSeconds += stats.keySeconds() + stats.updateSeconds();
                restraintSeconds += stats.restraintSeconds();
                reEdited += stats.reEdited();
                targetNllSum += stats.meanTargetNllAfter() * batch.size();
                List<CounterFactEvaluation.CaseResult> now = CounterFactEvaluation.evaluate(scorer, batch,
                        new CounterFactEvaluation.Baseline(baseline.neighborhoodPredictions().subList(start, start + batch.size())));
                for (int i = 0; i < batch.size(); i++) {
                    efficaciousAtOnce[start + i] = now.get(i).efficacy();
                }
                int done = start + batch.size();
                if (System.nanoTime() - lastLog > PROGRESS_NANOS || done == cases.size()) {
                    log.info("{}: {} / {} edits, {} s per edit", algorithm, done, cases.size(),
                            String.format(Locale.ROOT, "%.3f", editSeconds / done));
                    lastLog = System.nanoTime();
                }
                int every = settings.checkpointEvery();
                if (every > 0 && done < cases.size() && done / every > start / every) {
                    Checkpoint checkpoint = checkpoint(model, manager, scorer, cases.subList(0, done), baseline,
                            efficaciousAtOnce, perplexityBefore, settings).checkpoint();
                    trajectory.add(checkpoint);
                    log.info("{} after {} edits: efficacy {} generalization {} specificity {} retention of the first 100 {} ppl drift {}",
                            algorithm, done, checkpoint.efficacy(), checkpoint.generalization(), checkpoint.specificity(),
                            checkpoint.retentionFirst100(), checkpoint.pplDrift());
                }
            }
        }
        double peakHeapMb = heapPools.stream().mapToLong(pool -> pool.getPeakUsage().getUsed()).sum() / (1024.0 * 1024.0);

        Measured end = checkpoint(model, manager, scorer, cases, baseline, efficaciousAtOnce, perplexityBefore, settings);
        trajectory.add(end.checkpoint());
        double maxCondition = 0;
        for (int layer : layers) {
            try (NDManager scope = manager.newSubManager()) {
                maxCondition = Math.max(maxCondition, ConditionNumber.of(FloatMatrix.of(model.mlpOutputWeight(scope, layer))));
            }
        }
        Checkpoint last = end.checkpoint();
        return new Result(algorithm, last.efficacy(), last.generalization(), last.specificity(), last.efficacyTop1(),
                last.generalizationTop1(), last.specificityTop1(), end.retention(), last.retentionFirst100(),
                last.pplDrift(), maxCondition, editSeconds / cases.size(), targetSeconds / cases.size(), updateSeconds / cases.size(),
                restraintSeconds / cases.size(), reEdited, targetNllSum / cases.size(), peakHeapMb, trajectory,
                cases.stream().map(CounterFactRecord::caseId).toList(), rewritten, end.margins());
    }

    private record Measured(Checkpoint checkpoint, double retention, Margins margins) {
    }

    /** Measures the cases edited so far (the first {@code edited.size()}) as they stand now. */
    private static Measured checkpoint(LanguageModel model, NDManager manager, ContinuationScorer scorer,
                                       List<CounterFactRecord> edited, CounterFactEvaluation.Baseline baseline,
                                       boolean[] efficaciousAtOnce, double perplexityBefore, Settings settings) {
        CounterFactEvaluation.Baseline editedBaseline = new CounterFactEvaluation.Baseline(
                baseline.neighborhoodPredictions().subList(0, edited.size()));
        List<CounterFactEvaluation.CaseResult> now = CounterFactEvaluation.evaluate(scorer, edited, editedBaseline);
        CounterFactEvaluation.Summary summary = CounterFactEvaluation.Summary.of(now);
        double perplexity = Perplexity.of(model, manager, settings.heldOutText(), 128, settings.perplexityTokens());
        return new Measured(new Checkpoint(edited.size(), summary.efficacy(), summary.generalization(), summary.specificity(),
                summary.efficacyTop1(), summary.generalizationTop1(), summary.specificityTop1(),
                retention(now, efficaciousAtOnce, Math.min(100, edited.size())), (perplexity - perplexityBefore) / perplexityBefore),
                retention(now, efficaciousAtOnce, edited.size()), Margins.of(now));
    }

    /** Of the first {@code count} edits that were efficacious right after their batch, the share that still are. */
    private static double retention(List<CounterFactEvaluation.CaseResult> now, boolean[] efficaciousAtOnce, int count) {
        int kept = 0;
        int efficacious = 0;
        for (int i = 0; i < count; i++) {
            if (efficaciousAtOnce[i]) {
                efficacious++;
                kept += now.get(i).efficacy() ? 1 : 0;
            }
        }
        return efficacious == 0 ? 0 : (double) kept / efficacious;
    }

    /** Writes {@code {"<algorithm>": {"efficacy": ..., ...}, ...}} atomically. */
    public static void writeJson(List<Result> results, Path file) {
        Map<String, Result> byAlgorithm = new LinkedHashMap<>();
        results.forEach(result -> byAlgorithm.put(result.algorithm(), result));
        try {
            Path parent = file.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            Path temp = Files.createTempFile(parent, file.getFileName().toString(), ".tmp");
            try {
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(temp.toFile(), byAlgorithm);
                Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(temp);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot write benchmark results to " + file + ": " + e.getMessage(), e);
        }
    }

    /** The results side by side: one column per algorithm, one row per measure. */
    public static String table(List<Result> results) {
        String[] names = {"efficacy", "generalization", "specificity", "specificity_untouched", "efficacy_top1", "generalization_top1",
            "specificity_top1", "efficacy_margin", "generalization_margin", "specificity_margin", "retention",
            "retention_first_100", "ppl_drift", "max_condition_number", "seconds_per_edit", "target_seconds_per_edit", "update_seconds_per_edit", "restraint_seconds_per_edit", "re_edited", "target_nll", "peak_heap_mb"};
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "%-28s", "measure"));
        for (Result result : results) {
            out.append(String.format(Locale.ROOT, "%14s", result.algorithm()));
        }
        out.append('\n');
        for (String name : names) {
            out.append(String.format(Locale.ROOT, "%-28s", name));
            for (Result result : results) {
                out.append(String.format(Locale.ROOT, "%14.4f", value(result, name)));
            }
            out.append('\n');
        }
        if (results.stream().anyMatch(r -> r.trajectory().size() > 1)) {
            out.append(String.format(Locale.ROOT, "%n%-12s%8s%10s%10s%10s%10s%10s%n", "algorithm", "edits", "efficacy",
                    "general.", "specif.", "ret. 100", "ppl drift"));
            for (Result result : results) {
                for (Checkpoint c : result.trajectory()) {
                    out.append(String.format(Locale.ROOT, "%-12s%8d%10.4f%10.4f%10.4f%10.4f%10.4f%n", result.algorithm(),
                            c.edits(), c.efficacy(), c.generalization(), c.specificity(), c.retentionFirst100(), c.pplDrift()));
                }
            }
        }
        out.append(pairedAgainstMemit(results));
        return out.toString();
    }

    /** Each other algorithm of the run against MEMIT, case by case, where MEMIT was run. */
    private static String pairedAgainstMemit(List<Result> results) {
        Result memit = results.stream().filter(r -> r.algorithm().equals("memit")).findFirst().orElse(null);
        if (memit == null || results.size() < 2) {
            return "";
        }
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT,
                "%nagainst memit, case by case after all edits (holds for it only / for memit only, exact McNemar p;%n"
                + "for a margin: larger for it / for memit, sign test p)%n"));
        for (Result result : results) {
            if (result == memit) {
                continue;
            }
            List<PairedComparison> comparisons = List.of(
                    PairedComparison.of("efficacy", result.failedCases().efficacy(), memit.failedCases().efficacy()),
                    PairedComparison.of("generalization", result.failedCases().generalization(), memit.failedCases().generalization()),
                    PairedComparison.of("specificity", result.failedCases().specificity(), memit.failedCases().specificity()),
                    PairedComparison.of("spec. untouched", result.failedUntouchedSpecificity(), memit.failedUntouchedSpecificity()),
                    PairedComparison.ofMargins("efficacy margin", result.margins().efficacy(), memit.margins().efficacy()),
                    PairedComparison.ofMargins("general. margin", result.margins().generalization(), memit.margins().generalization()),
                    PairedComparison.ofMargins("spec. margin", result.margins().specificity(), memit.margins().specificity()));
            for (PairedComparison c : comparisons) {
                out.append(String.format(Locale.ROOT, "%-12s%-16s%+6d  (%d / %d, p %.3f)%n", result.algorithm(), c.measure(),
                        c.difference(), c.onlyFirst(), c.onlySecond(), c.pValue()));
            }
        }
        return out.toString();
    }

    private static double value(Result r, String name) {
        return switch (name) {
            case "efficacy" -> r.efficacy();
            case "generalization" -> r.generalization();
            case "specificity" -> r.specificity();
            case "specificity_untouched" -> r.specificityUntouched();
            case "efficacy_top1" -> r.efficacyTop1();
            case "generalization_top1" -> r.generalizationTop1();
            case "specificity_top1" -> r.specificityTop1();
            case "efficacy_margin" -> r.efficacyMargin();
            case "generalization_margin" -> r.generalizationMargin();
            case "specificity_margin" -> r.specificityMargin();
            case "retention" -> r.retention();
            case "retention_first_100" -> r.retentionFirst100();
            case "ppl_drift" -> r.pplDrift();
            case "max_condition_number" -> r.maxConditionNumber();
            case "seconds_per_edit" -> r.secondsPerEdit();
            case "target_seconds_per_edit" -> r.targetSecondsPerEdit();
            case "update_seconds_per_edit" -> r.updateSecondsPerEdit();
            case "restraint_seconds_per_edit" -> r.restraintSecondsPerEdit();
            case "re_edited" -> r.reEdited();
            case "target_nll" -> r.targetNll();
            case "peak_heap_mb" -> r.peakHeapMb();
            default -> throw new IllegalArgumentException(name);
        };
    }
}

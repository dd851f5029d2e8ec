package io.editstream.eval;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.editstream.edit.EditHyperparameters;
import io.editstream.edit.EditRequest;
import io.editstream.edit.Editor;
import io.editstream.edit.FloatMatrix;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sequential editing benchmark: N CounterFact edits in batches of B, one fresh unedited model per algorithm,
 * measured the way the papers do (every measure after the last edit) plus lifelong-editing measures.
 */
public final class EditBenchmark {

    private static final Logger log = LoggerFactory.getLogger(EditBenchmark.class);
    private static final long PROGRESS_NANOS = 10_000_000_000L;

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
     */
    public record Settings(int edits, int batchSize, long seed, EditHyperparameters hyperparameters,
                           String secondMomentCorpus, Path cacheDir, String heldOutText, int perplexityTokens) {
        public Settings {
            if (edits < 1 || batchSize < 1) {
                throw new IllegalArgumentException("need edits >= 1 and batch >= 1, got " + edits + ", " + batchSize);
            }
        }
    }

    /**
     * One algorithm's outcome. Efficacy, generalization and specificity (both definitions, see
     * {@link CounterFactEvaluation}) are measured after all edits; retention is the share of edits efficacious
     * right after their own batch that still are after all later ones; ppl_drift is the relative change of
     * held-out perplexity; max_condition_number is over the edited matrices at the end.
     */
    @JsonPropertyOrder({"efficacy", "generalization", "specificity", "efficacy_top1", "generalization_top1",
        "specificity_top1", "retention", "ppl_drift", "max_condition_number", "seconds_per_edit", "peak_heap_mb"})
    public record Result(
            @JsonIgnore String algorithm,
            @JsonProperty("efficacy") double efficacy,
            @JsonProperty("generalization") double generalization,
            @JsonProperty("specificity") double specificity,
            @JsonProperty("efficacy_top1") double efficacyTop1,
            @JsonProperty("generalization_top1") double generalizationTop1,
            @JsonProperty("specificity_top1") double specificityTop1,
            @JsonProperty("retention") double retention,
            @JsonProperty("ppl_drift") double pplDrift,
            @JsonProperty("max_condition_number") double maxConditionNumber,
            @JsonProperty("seconds_per_edit") double secondsPerEdit,
            @JsonProperty("peak_heap_mb") double peakHeapMb) {
    }

    private EditBenchmark() {
    }

    public static List<Result> run(ModelSource source, NDManager manager, List<String> algorithms,
                                   List<CounterFactRecord> dataset, Settings settings) {
        if (dataset.size() < settings.edits()) {
            throw new IllegalArgumentException("dataset has " + dataset.size() + " cases, " + settings.edits() + " edits asked");
        }
        List<CounterFactRecord> cases = dataset.subList(0, settings.edits());
        List<Result> results = new ArrayList<>();
        for (String algorithm : algorithms) {
            try (LanguageModel model = source.open(); NDManager scope = manager.newSubManager()) {
                results.add(runOne(algorithm, model, scope, cases, settings));
            }
        }
        return results;
    }

    private static Result runOne(String algorithm, LanguageModel model, NDManager manager,
                                 List<CounterFactRecord> cases, Settings settings) {
        EditHyperparameters hyperparameters = settings.hyperparameters();
        int[] layers = hyperparameters.layerArray();
        Map<Integer, FloatMatrix> c0 = SecondMomentStats.loadOrCompute(manager, model, layers,
                settings.secondMomentCorpus(), hyperparameters.secondMoment().samples(), 128, settings.cacheDir());
        ContinuationScorer scorer = new ContinuationScorer(model, manager);
        CounterFactEvaluation.Baseline baseline = CounterFactEvaluation.baseline(scorer, cases);
        double perplexityBefore = Perplexity.of(model, manager, settings.heldOutText(), 128, settings.perplexityTokens());
        List<MemoryPoolMXBean> heapPools = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(pool -> pool.getType() == MemoryType.HEAP).toList();
        heapPools.forEach(MemoryPoolMXBean::resetPeakUsage);

        boolean[] efficaciousAtOnce = new boolean[cases.size()];
        double editSeconds = 0;
        long lastLog = System.nanoTime();
        try (Editor editor = Editor.create(algorithm, model, hyperparameters, c0, manager, settings.seed())) {
            for (int start = 0; start < cases.size(); start += settings.batchSize()) {
                List<CounterFactRecord> batch = cases.subList(start, Math.min(cases.size(), start + settings.batchSize()));
                List<EditRequest> requests = batch.stream().map(CounterFactRecord::toEditRequest).toList();
                long began = System.nanoTime();
                editor.apply(requests);
                editSeconds += (System.nanoTime() - began) / 1e9;
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
            }
        }
        double peakHeapMb = heapPools.stream().mapToLong(pool -> pool.getPeakUsage().getUsed()).sum() / (1024.0 * 1024.0);

        List<CounterFactEvaluation.CaseResult> afterAll = CounterFactEvaluation.evaluate(scorer, cases, baseline);
        CounterFactEvaluation.Summary summary = CounterFactEvaluation.Summary.of(afterAll);
        int kept = 0;
        int efficacious = 0;
        for (int i = 0; i < cases.size(); i++) {
            if (efficaciousAtOnce[i]) {
                efficacious++;
                kept += afterAll.get(i).efficacy() ? 1 : 0;
            }
        }
        double perplexityAfter = Perplexity.of(model, manager, settings.heldOutText(), 128, settings.perplexityTokens());
        double maxCondition = 0;
        for (int layer : layers) {
            try (NDManager scope = manager.newSubManager()) {
                maxCondition = Math.max(maxCondition, ConditionNumber.of(FloatMatrix.of(model.mlpOutputWeight(scope, layer))));
            }
        }
        return new Result(algorithm, summary.efficacy(), summary.generalization(), summary.specificity(),
                summary.efficacyTop1(), summary.generalizationTop1(), summary.specificityTop1(),
                efficacious == 0 ? 0 : (double) kept / efficacious,
                (perplexityAfter - perplexityBefore) / perplexityBefore,
                maxCondition, editSeconds / cases.size(), peakHeapMb);
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
        String[] names = {"efficacy", "generalization", "specificity", "efficacy_top1", "generalization_top1",
            "specificity_top1", "retention", "ppl_drift", "max_condition_number", "seconds_per_edit", "peak_heap_mb"};
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "%-22s", "measure"));
        for (Result result : results) {
            out.append(String.format(Locale.ROOT, "%14s", result.algorithm()));
        }
        out.append('\n');
        for (String name : names) {
            out.append(String.format(Locale.ROOT, "%-22s", name));
            for (Result result : results) {
                out.append(String.format(Locale.ROOT, "%14.4f", value(result, name)));
            }
            out.append('\n');
        }
        return out.toString();
    }

    private static double value(Result r, String name) {
        return switch (name) {
            case "efficacy" -> r.efficacy();
            case "generalization" -> r.generalization();
            case "specificity" -> r.specificity();
            case "efficacy_top1" -> r.efficacyTop1();
            case "generalization_top1" -> r.generalizationTop1();
            case "specificity_top1" -> r.specificityTop1();
            case "retention" -> r.retention();
            case "ppl_drift" -> r.pplDrift();
            case "max_condition_number" -> r.maxConditionNumber();
            case "seconds_per_edit" -> r.secondsPerEdit();
            case "peak_heap_mb" -> r.peakHeapMb();
            default -> throw new IllegalArgumentException(name);
        };
    }
}

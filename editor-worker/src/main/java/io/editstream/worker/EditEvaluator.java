package io.editstream.worker;

import ai.djl.ndarray.NDManager;
import io.editstream.edit.PromptTokens;
import io.editstream.eval.ConditionNumber;
import io.editstream.eval.ContinuationScorer;
import io.editstream.eval.Locality;
import io.editstream.eval.Perplexity;
import io.editstream.events.EditEvaluation;
import io.editstream.events.EditOutcome;
import io.editstream.events.EditRequest;
import io.editstream.events.EvaluationScope;
import io.editstream.events.LatencyBreakdown;
import io.editstream.model.Generation;
import io.editstream.model.Generator;
import io.editstream.model.LanguageModel;
import io.editstream.model.TextTokenizer;
import io.editstream.tensor.FloatMatrix;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code EditEvaluation} events of one model: per edit, the CounterFact measures in both definitions
 * ({@link io.editstream.eval.CounterFactEvaluation}) and what greedy generation shows; per version, retention of
 * earlier edits, perplexity drift, locality and the condition number of the edited matrices.
 *
 * <p>Created on the base weights, whose perplexity and next-token distributions every version is compared with. It
 * keeps only those plain values: each call opens and closes its own NDArray scope. Not thread-safe, like the model.
 */
public final class EditEvaluator {

    private static final Logger LOG = LoggerFactory.getLogger(EditEvaluator.class);

    /** EditBenchmark's window, so that the worker's perplexity drift and the benchmark's ppl_drift are one measure. */
    private static final int PERPLEXITY_WINDOW = 128;

    private final LanguageModel model;
    private final EvaluationSettings settings;
    private final String heldOutText;
    private final double basePerplexity;
    private final Locality.Reference baseLocality;

    /**
     * Measures the base: call it while the model holds its BASE weights.
     *
     * @param heldOutText     text neither the model nor C0 saw, for perplexity drift
     * @param localityPrompts prompts no edit is about; the first {@link EvaluationSettings#localityPrompts} are used
     */
    public EditEvaluator(LanguageModel model, EvaluationSettings settings, String heldOutText, List<String> localityPrompts) {
        if (localityPrompts.isEmpty()) {
            throw new IllegalArgumentException("locality needs at least one unrelated prompt");
        }
        this.model = model;
        this.settings = settings;
        this.heldOutText = Objects.requireNonNull(heldOutText, "held-out text");
        List<String> prompts = List.copyOf(localityPrompts.subList(0, Math.min(localityPrompts.size(), settings.localityPrompts())));
        try (NDManager manager = NDManager.newBaseManager(model.device())) {
            this.basePerplexity = perplexity(manager);
            this.baseLocality = Locality.reference(model, manager, prompts);
        }
        LOG.info("base of the evaluation: held-out perplexity {} (at most {} tokens), {} locality prompts", basePerplexity,
                settings.heldOutTokens(), prompts.size());
    }

    /**
     * One applied edit measured on the model's current weights (scope EDIT, outcome APPLIED). A prompt that, with
     * its target, does not fit the model's context is left out of its measures; a measure with no prompt left is null.
     */
    public EditEvaluation evaluateEdit(String modelId, long version, EditRequest request, LatencyBreakdown latency, long evaluatedAtMillis) {
        String targetNew = request.getTargetNew();
        String targetTrue = request.getTargetTrue();
        String what = "edit " + request.getSequence() + " (" + request.getCorrectionId() + ")";
        List<Case> rewrites = fitting(what, Stream.of(rewritePrompt(request)), targetNew, targetTrue);
        List<Case> paraphrases = fitting(what, request.getParaphrases().stream(), targetNew, targetTrue);
        // both specificity definitions and the truth check ask about target_true: nothing to ask without it
        List<Case> neighbours = targetTrue == null ? List.of()
                : fitting(what, request.getNeighborhoodPrompts().stream(), targetNew, targetTrue);
        List<Case> all = new ArrayList<>(rewrites);
        all.addAll(paraphrases);
        all.addAll(neighbours);
        try (NDManager manager = NDManager.newBaseManager(model.device())) {
            List<Scored> scored = score(manager, all);
            List<Scored> rewriteScores = scored.subList(0, rewrites.size());
            List<Scored> paraphraseScores = scored.subList(rewrites.size(), rewrites.size() + paraphrases.size());
            List<Scored> neighbourScores = scored.subList(rewrites.size() + paraphrases.size(), scored.size());
            List<String> targetPrompts = Stream.concat(rewrites.stream(), paraphrases.stream()).map(Case::prompt).toList();
            EditEvaluation evaluation = record(modelId, version, EvaluationScope.EDIT, latency, evaluatedAtMillis)
                    .setSequence(request.getSequence())
                    .setCorrectionId(request.getCorrectionId())
                    .setOutcome(EditOutcome.APPLIED)
                    .setEfficacy(targetTrue == null ? null : mean(rewriteScores, Scored::newWins))
                    .setEfficacyTop1(mean(rewriteScores, s -> s.targetNew().accuracy()))
                    .setGeneralization(targetTrue == null ? null : mean(paraphraseScores, Scored::newWins))
                    .setGeneralizationTop1(mean(paraphraseScores, s -> s.targetNew().accuracy()))
                    .setSpecificity(mean(neighbourScores, Scored::trueWins))
                    .setSpecificityTop1(mean(neighbourScores, s -> s.targetTrue().accuracy()))
                    .setGenerationContainsTarget(continuationsContaining(manager, targetPrompts, targetNew))
                    .setGenerationKeepsTruth(targetTrue == null ? null
                            : continuationsContaining(manager, neighbours.stream().map(Case::prompt).toList(), targetTrue))
                    .build();
            LOG.debug("edit {} of {} on version {}: efficacy {} (top-1 {}), generalization {}, specificity {}, generation {} / {}",
                    request.getSequence(), modelId, version, evaluation.getEfficacy(), evaluation.getEfficacyTop1(),
                    evaluation.getGeneralization(), evaluation.getSpecificity(), evaluation.getGenerationContainsTarget(),
                    evaluation.getGenerationKeepsTruth());
            return evaluation;
        }
    }

    /** An edit the worker left out of the version (scope EDIT, outcome SKIPPED): why, and no measures. */
    public EditEvaluation skippedEdit(String modelId, long version, EditRequest request, String reason, LatencyBreakdown latency,
                                      long evaluatedAtMillis) {
        return record(modelId, version, EvaluationScope.EDIT, latency, evaluatedAtMillis)
                .setSequence(request.getSequence())
                .setCorrectionId(request.getCorrectionId())
                .setOutcome(EditOutcome.SKIPPED)
                .setReason(reason)
                .build();
    }

    /**
     * A version as a whole, on the model's current weights (scope CHECKPOINT).
     *
     * @param retentionSample earlier edits to re-measure; when there are more than {@link EvaluationSettings#retentionSample},
     *                        an evenly spaced subset of them, so that the oldest edits are watched as well as the newest
     * @param editedMatrices  the edited tensors as stored; their largest condition number is reported
     */
    public EditEvaluation evaluateVersion(String modelId, long version, List<io.editstream.edit.EditRequest> retentionSample,
                                          Collection<FloatMatrix> editedMatrices, LatencyBreakdown latency, long evaluatedAtMillis) {
        List<Case> earlier = new ArrayList<>();
        for (io.editstream.edit.EditRequest request : evenlySpaced(retentionSample, settings.retentionSample())) {
            earlier.addAll(fitting("retention of \"" + request.filledPrompt() + "\"", Stream.of(request.filledPrompt()), request.targetNew(), request.targetTrue()));
        }
        try (NDManager manager = NDManager.newBaseManager(model.device())) {
            // the probability comparison where the edit names what it replaces, the stricter top-1 where it cannot
            Double retention = mean(score(manager, earlier), s -> s.targetTrue() == null ? s.targetNew().accuracy() : s.newWins());
            double drift = (perplexity(manager) - basePerplexity) / basePerplexity;
            Locality.Result locality = Locality.measure(model, manager, baseLocality);
            Double maxCondition = editedMatrices.isEmpty() ? null
                    : editedMatrices.stream().mapToDouble(ConditionNumber::of).max().orElseThrow();
            EditEvaluation evaluation = record(modelId, version, EvaluationScope.CHECKPOINT, latency, evaluatedAtMillis)
                    .setRetention(retention)
                    .setPerplexityDrift(drift)
                    .setLocalityTop1Agreement(locality.topOneAgreement())
                    .setLocalityKl(locality.meanKl())
                    .setMaxConditionNumber(maxCondition)
                    .build();
            LOG.debug("version {} of {}: retention {} over {} edits, perplexity drift {}, locality {} (KL {}), max condition number {}",
                    version, modelId, retention, earlier.size(), drift, locality.topOneAgreement(), locality.meanKl(), maxCondition);
            return evaluation;
        }
    }

    /** A prompt with the continuations it is scored on; {@code targetTrue} is null when the edit does not name it. */
    private record Case(String prompt, String targetNew, String targetTrue) {
    }

    /** A case's scores; {@code targetTrue} is null when the case has none. */
    private record Scored(ContinuationScorer.Score targetNew, ContinuationScorer.Score targetTrue) {

        /** 1 when target_new has the lower mean-token NLL (CounterFactEvaluation's comparison: a tie is a loss), else 0. */
        double newWins() {
            return targetNew.meanNll() < targetTrue.meanNll() ? 1 : 0;
        }

        /** 1 when target_true keeps the strictly lower mean-token NLL, else 0. */
        double trueWins() {
            return targetTrue.meanNll() < targetNew.meanNll() ? 1 : 0;
        }
    }

    /** All cases in one scoring call: the batching is ContinuationScorer's. */
    private List<Scored> score(NDManager manager, List<Case> cases) {
        List<ContinuationScorer.Query> queries = new ArrayList<>();
        for (Case c : cases) {
            queries.add(new ContinuationScorer.Query(c.prompt(), c.targetNew()));
            if (c.targetTrue() != null) {
                queries.add(new ContinuationScorer.Query(c.prompt(), c.targetTrue()));
            }
        }
        if (queries.isEmpty()) {
            return List.of();
        }
        List<ContinuationScorer.Score> scores = new ContinuationScorer(model, manager).scoreAll(queries);
        List<Scored> scored = new ArrayList<>();
        int next = 0;
        for (Case c : cases) {
            ContinuationScorer.Score scoreNew = scores.get(next++);
            scored.add(new Scored(scoreNew, c.targetTrue() == null ? null : scores.get(next++)));
        }
        return scored;
    }

    /**
     * The cases of the prompts that fit the context with every target: the runtime refuses a longer sequence, and one
     * overlong paraphrase must not cost the edit all its measures.
     */
    /** @param what names the edit in the warning when prompts are left out */
    private List<Case> fitting(String what, Stream<String> prompts, String targetNew, String targetTrue) {
        List<Case> cases = new ArrayList<>();
        int dropped = 0;
        for (String prompt : prompts.toList()) {
            if (fits(prompt, targetNew) && (targetTrue == null || fits(prompt, targetTrue))) {
                cases.add(new Case(prompt, targetNew, targetTrue));
            } else {
                dropped++;
            }
        }
        if (dropped > 0) {
            LOG.warn("{}: {} evaluation prompt(s) do not fit the context of {} tokens with their target, left out",
                    what, dropped, model.config().maxSeqLen());
        }
        return cases;
    }

    private boolean fits(String prompt, String target) {
        TextTokenizer tokenizer = model.tokenizer();
        return PromptTokens.prompt(tokenizer, prompt).length + PromptTokens.target(tokenizer, prompt, target).length
                <= model.config().maxSeqLen();
    }

    /** Fraction of the prompts whose greedy continuation contains {@code target}; null for none. */
    private Double continuationsContaining(NDManager manager, List<String> prompts, String target) {
        if (prompts.isEmpty()) {
            return null;
        }
        TextTokenizer tokenizer = model.tokenizer();
        Generator generator = new Generator(model);
        int hits = 0;
        for (String prompt : prompts) {
            int promptLength = PromptTokens.prompt(tokenizer, prompt).length;
            int newTokens = Math.max(settings.generationTokens(), PromptTokens.target(tokenizer, prompt, target).length);
            // Generator's steps is the last position run: BOS and the prompt fill promptLength of them, so this many
            // steps yield newTokens tokens after the prompt (never 0, which would mean the whole context)
            Generation generation = generator.greedy(manager, prompt, Math.max(1, promptLength + newTokens - 2));
            // only what the model added: a neighbourhood prompt may itself name the answer
            hits += tokenizer.decode(generation.generatedTokens()).contains(target.strip()) ? 1 : 0;
        }
        return (double) hits / prompts.size();
    }

    private double perplexity(NDManager manager) {
        return Perplexity.of(model, manager, heldOutText, PERPLEXITY_WINDOW, settings.heldOutTokens());
    }

    /** The rewrite prompt exactly as the editor fills it in. */
    private static String rewritePrompt(EditRequest request) {
        return new io.editstream.edit.EditRequest(request.getPromptTemplate(), request.getSubject(), request.getTargetNew(),
                request.getTargetTrue()).filledPrompt();
    }

    private static <T> List<T> evenlySpaced(List<T> requests, int most) {
        if (requests.size() <= most) {
            return requests;
        }
        List<T> picked = new ArrayList<>();
        for (int i = 0; i < most; i++) {
            picked.add(requests.get((int) ((long) i * requests.size() / most)));
        }
        return picked;
    }

    private static Double mean(List<Scored> scored, ToDoubleFunction<Scored> measure) {
        return scored.isEmpty() ? null : scored.stream().mapToDouble(measure).average().orElseThrow();
    }

    private static EditEvaluation.Builder record(String modelId, long version, EvaluationScope scope, LatencyBreakdown latency,
                                                 long evaluatedAtMillis) {
        return EditEvaluation.newBuilder()
                .setModelId(modelId)
                .setCheckpointVersion(version)
                .setScope(scope)
                .setLatency(latency)
                .setEvaluatedAt(Instant.ofEpochMilli(evaluatedAtMillis));
    }
}

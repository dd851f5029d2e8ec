package io.editstream.cli.demo;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import io.editstream.cli.CommandFailure;
import io.editstream.cli.demo.DemoInput.Correction;
import io.editstream.cli.demo.DemoInput.Fate;
import io.editstream.cli.demo.DemoInput.Garbage;
import io.editstream.cli.demo.DemoInput.Kind;
import io.editstream.cli.demo.DemoInput.WithoutField;
import io.editstream.client.CorrectionDefaults;
import io.editstream.client.CorrectionFile;
import io.editstream.corrections.CorrectionValidator;
import io.editstream.corrections.PromptTemplate;
import io.editstream.corrections.ValidationRules;
import io.editstream.events.CorrectionEvent;

/**
 * The records the demo feeds, in send order: real CounterFact facts as corrections for each model, then the
 * situations the pipeline must handle woven in — corrections sent out of event-time order (within the grace period),
 * detector retries, the same fact from a second detector (same target: a duplicate; another target: a conflict, the
 * later event time wins), and malformed records. The same seed gives the same scenario.
 *
 * @param inputs          the records, in send order
 * @param models          the models the deployment edits
 * @param unknownModel    the model id the demo's stray correction names
 */
public record DemoScenario(List<DemoInput> inputs, List<String> models, String unknownModel) {
    /** Event times of consecutive corrections lie this far apart; out-of-order swaps stay well inside the grace. */
    static final Duration STEP = Duration.ofMillis(150);
    private static final String SECOND_DETECTOR = "demo-detector-b";

    public DemoScenario {
        inputs = List.copyOf(inputs);
        models = List.copyOf(models);
    }

    /** How many records of each fate the pipeline should produce. */
    public Map<Fate, Integer> expected() {
        Map<Fate, Integer> counts = new EnumMap<>(Fate.class);
        for (Fate fate : Fate.values()) {
            counts.put(fate, 0);
        }
        inputs.forEach(input -> counts.merge(input.kind().fate(), 1, Integer::sum));
        return counts;
    }

    public Map<Kind, Integer> countsByKind() {
        Map<Kind, Integer> counts = new EnumMap<>(Kind.class);
        inputs.forEach(input -> counts.merge(input.kind(), 1, Integer::sum));
        return counts;
    }

    /** The kind of each correction id fed, for annotating what came out (retries share their original's id). */
    public Map<String, Kind> kindsByCorrectionId() {
        Map<String, Kind> kinds = new HashMap<>();
        for (DemoInput input : inputs) {
            if (input instanceof Correction c) {
                kinds.putIfAbsent(c.event().getCorrectionId(), c.kind());
            }
        }
        return kinds;
    }

    /**
     * Builds the scenario from a CounterFact file (JSON array, EasyEdit format).
     *
     * @param factsPerModel new corrections per model; at least 8 so that every situation has its own facts
     */
    public static DemoScenario fromCounterFact(Path counterFact, List<String> models, int factsPerModel, long seed,
            Instant now) {
        if (factsPerModel < 8) {
            throw new IllegalArgumentException("the demo needs at least 8 facts per model, got " + factsPerModel);
        }
        Random random = new Random(seed);
        Map<String, List<CorrectionEvent>> facts = new HashMap<>();
        List<CorrectionEvent> spare = List.of();
        for (String model : models) {
            List<CorrectionEvent> valid = validFacts(counterFact, model);
            Collections.shuffle(valid, random);
            facts.put(model, valid.subList(0, factsPerModel));
            spare = valid.subList(factsPerModel, valid.size());
        }
        String unknownModel = "unregistered-model";
        // All event times lie in the past, so the topology's clock-skew check never refuses a demo correction.
        Instant start = now.minus(STEP.multipliedBy(4L * factsPerModel * models.size())).minusSeconds(30);
        return new Builder(models, facts, spare, unknownModel, start, random).build();
    }

    private static List<CorrectionEvent> validFacts(Path counterFact, String model) {
        CorrectionValidator validator = new CorrectionValidator(ValidationRules.forModels(Set.of(model)));
        List<CorrectionFile.Entry> entries;
        try {
            entries = CorrectionFile.read(counterFact, new CorrectionDefaults(model, "demo-detector-a", Instant.EPOCH));
        } catch (IOException e) {
            throw new CommandFailure("cannot read the CounterFact facts " + counterFact + ": " + e.getMessage(), e);
        }
        List<CorrectionEvent> valid = new ArrayList<>();
        for (CorrectionFile.Entry entry : entries) {
            if (entry instanceof CorrectionFile.Parsed parsed && validator.validate(parsed.event()).isEmpty()) {
                valid.add(parsed.event());
            }
        }
        if (valid.size() < 100) {
            throw new CommandFailure(counterFact + " holds only " + valid.size() + " valid CounterFact records");
        }
        return valid;
    }

    /** Lays out the send order; positions refer to the list as it grows. */
    private static final class Builder {
        private final List<String> models;
        private final Map<String, List<CorrectionEvent>> facts;
        /** Facts not fed as new corrections: where conflicting targets and malformed records come from. */
        private final List<CorrectionEvent> spare;
        private final String unknownModel;
        private final Instant start;
        private final Random random;
        private final List<DemoInput> sends = new ArrayList<>();
        private int secondDetectorIds;

        Builder(List<String> models, Map<String, List<CorrectionEvent>> facts, List<CorrectionEvent> spare,
                String unknownModel, Instant start, Random random) {
            this.models = models;
            this.facts = facts;
            this.spare = spare;
            this.unknownModel = unknownModel;
            this.start = start;
            this.random = random;
        }

        DemoScenario build() {
            int perModel = facts.get(models.get(0)).size();
            // New corrections, the models interleaved, event time increasing with send order.
            int slot = 0;
            for (int i = 0; i < perModel; i++) {
                for (String model : models) {
                    CorrectionEvent fact = facts.get(model).get(i);
                    sends.add(new Correction(model, at(fact, start.plus(STEP.multipliedBy(slot++))), Kind.NEW));
                }
            }
            int stride = models.size();
            // Fact 1 of each model: sent after fact 2 (a later event time) of the same model.
            for (int m = 0; m < stride; m++) {
                swapOutOfOrder(stride + m, 2 * stride + m);
            }
            // Fact 3 of model 0: superseded by a later correction arriving right after it. Fact 5 of the last model:
            // the later-timed conflicting correction arrives first, the original after it, and still loses.
            addConflict(indexOfFact(models.get(0), 3), false);
            addConflict(indexOfFact(models.get(stride - 1), 5), true);
            // Detector retries of fact 0 and of fact 4 (the same record again), a few records later.
            addRetry(indexOfFact(models.get(0), 0), 3);
            addRetry(indexOfFact(models.get(stride - 1), 4), 2);
            // Fact 6 again from a second detector, with the prompt as a template: the same fact after normalisation.
            addSemanticDuplicate(indexOfFact(models.get(0), 6), 2);
            addMalformed();
            return new DemoScenario(sends, models, unknownModel);
        }

        private void swapOutOfOrder(int earlier, int later) {
            Correction first = (Correction) sends.get(earlier);
            Correction second = (Correction) sends.get(later);
            sends.set(earlier, second);
            sends.set(later, new Correction(first.key(), first.event(), Kind.OUT_OF_ORDER));
        }

        private void addConflict(int index, boolean conflictFirst) {
            Correction original = (Correction) sends.get(index);
            CorrectionEvent fact = original.event();
            // A target another CounterFact case gives for the same relation, so the conflict reads naturally.
            String relation = template(fact);
            String otherTarget = spare.stream().filter(f -> template(f).equals(relation))
                    .map(CorrectionEvent::getTargetNew)
                    .filter(t -> !t.equals(fact.getTargetNew()) && !t.equals(fact.getTargetTrue()))
                    .findFirst().orElse(fact.getTargetNew() + " (revised)");
            CorrectionEvent conflict = CorrectionEvent.newBuilder(fact)
                    .setCorrectionId(secondDetectorId())
                    .setSource(SECOND_DETECTOR)
                    .setTargetNew(otherTarget)
                    .setDetectedAt(fact.getDetectedAt().plus(STEP.dividedBy(2)))
                    .build();
            sends.add(conflictFirst ? index : index + 1, new Correction(original.key(), conflict, Kind.CONFLICT));
        }

        private void addRetry(int index, int later) {
            Correction original = (Correction) sends.get(index);
            sends.add(Math.min(index + later, sends.size()), new Correction(original.key(), original.event(), Kind.RETRY));
        }

        private void addSemanticDuplicate(int index, int later) {
            Correction original = (Correction) sends.get(index);
            CorrectionEvent fact = original.event();
            CorrectionEvent duplicate = CorrectionEvent.newBuilder(fact)
                    .setCorrectionId(secondDetectorId())
                    .setSource(SECOND_DETECTOR)
                    .setPrompt(template(fact))
                    .setDetectedAt(fact.getDetectedAt().plus(STEP.multipliedBy(later)))
                    .build();
            sends.add(index + later, new Correction(original.key(), duplicate, Kind.SEMANTIC_DUPLICATE));
        }

        /** One of each malformed kind, spread over the stream. */
        private void addMalformed() {
            String model = models.get(0);
            CorrectionEvent template = spare.get(spare.size() - 1);
            Instant at = start.plus(STEP.multipliedBy(sends.size() / 2));
            byte[] noise = new byte[48];
            random.nextBytes(noise);
            noise[0] = 0x7f; // never the wire format's magic byte 0, which would send the decoder to the registry
            List<DemoInput> malformed = List.of(
                    new Garbage(model, noise, Kind.RANDOM_BYTES),
                    new WithoutField(model, withId(template, model, at), "subject", Kind.MISSING_FIELD),
                    new Correction(unknownModel, withId(template, unknownModel, at), Kind.UNKNOWN_MODEL),
                    new Correction(model, CorrectionEvent.newBuilder(withId(template, model, at)).setTargetNew("")
                            .build(), Kind.EMPTY_FIELD),
                    new Correction(model, CorrectionEvent.newBuilder(withId(template, model, at))
                            .setPrompt("Which city is the capital of it?").build(), Kind.PROMPT_WITHOUT_SUBJECT),
                    new Correction(model, CorrectionEvent.newBuilder(withId(template, model, at))
                            .setTargetNew(template.getTargetTrue()).build(), Kind.TARGET_EQUALS_TRUE));
            for (int i = 0; i < malformed.size(); i++) {
                sends.add(1 + i * (sends.size() - 1) / malformed.size(), malformed.get(i));
            }
        }

        private CorrectionEvent withId(CorrectionEvent fact, String model, Instant at) {
            return CorrectionEvent.newBuilder(fact).setModelId(model).setCorrectionId(secondDetectorId())
                    .setSource(SECOND_DETECTOR).setDetectedAt(at).build();
        }

        private int indexOfFact(String model, int factIndex) {
            CorrectionEvent fact = facts.get(model).get(factIndex);
            for (int i = 0; i < sends.size(); i++) {
                if (sends.get(i) instanceof Correction c && c.kind() != Kind.CONFLICT
                        && c.event().getCorrectionId().equals(fact.getCorrectionId())) {
                    return i;
                }
            }
            throw new IllegalStateException("fact " + factIndex + " of " + model + " is not in the feed");
        }

        private String secondDetectorId() {
            return SECOND_DETECTOR + "-" + (++secondDetectorIds);
        }

        private static String template(CorrectionEvent fact) {
            return PromptTemplate.ofPrompt(fact.getPrompt(), fact.getSubject()).template();
        }

        private static CorrectionEvent at(CorrectionEvent fact, Instant detectedAt) {
            return CorrectionEvent.newBuilder(fact).setDetectedAt(detectedAt).build();
        }
    }
}

package io.editstream.worker;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The worker's configuration: how it meets Kafka, and per model id which model it edits and how. Read from JSON:
 * <pre>{@code
 * {
 *   "groupId": "editstream-worker", "transactionalIdPrefix": "editstream-worker",
 *   "prepareWaitMs": 2000, "snapshotEvery": 100, "maxPollIntervalMs": 900000,
 *   "models": {
 *     "stories": {"path": "../shared/models/stories260K", "editor": "nse+prune", "hyperparameters": "llama2c-stories",
 *                 "device": "cpu", "c0": {"corpus": "sampled-stories", "samples": 4000}, "heldOut": "sampled-stories",
 *                 "localityPrompts": ["Once upon a time"], "seed": 1, "prepareGroupSize": 8, "prepareAhead": 0,
 *                 "evaluation": {"retentionSample": 32, "heldOutTokens": 512, "generationTokens": 8, "localityPrompts": 16}}
 *   }
 * }
 * }</pre>
 *
 * @param groupId               consumer group of the workers (they share the partitions of edit-requests)
 * @param transactionalIdPrefix a partition's transactional id is this, the topic and the partition: one writer per
 *                              partition, so a second worker on it fences the first
 * @param prepareWaitMs         how long a batch may wait for the rest of its prepare group before the group is cut at
 *                              what has arrived (a trickle of corrections must not stall the model)
 * @param snapshotEvery         every how many versions the store keeps full tensors too (0: never)
 * @param maxPollIntervalMs     the consumer's max.poll.interval.ms: longer than the slowest batch
 * @param models                by model id
 */
public record WorkerSettings(String groupId, String transactionalIdPrefix, long prepareWaitMs, int snapshotEvery,
                             int maxPollIntervalMs, Map<String, ModelSettings> models) {

    public static final String DEFAULT_GROUP_ID = "editstream-worker";
    /**
     * None by default: on the 2-core testbed bench, two groups of 8 computed ahead on a second thread made a run 0.75x
     * as fast as groups of one computed when needed (the targets of a group cost more than their singles, and the
     * second thread took its core from the evaluation and the broker). Workers with spare cores can turn it on.
     */
    public static final int DEFAULT_PREPARE_AHEAD = 0;

    /** The model-generated story text that stands in for a llama2.c story model's training text (see SampledCorpus). */
    public static final String SAMPLED_STORIES = "sampled-stories";

    // a number left out reads as 0, which every record below turns into its default (or refuses, naming it)
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

    public WorkerSettings {
        groupId = groupId == null ? DEFAULT_GROUP_ID : groupId;
        transactionalIdPrefix = transactionalIdPrefix == null ? groupId : transactionalIdPrefix;
        maxPollIntervalMs = maxPollIntervalMs == 0 ? 900_000 : maxPollIntervalMs;
        if (prepareWaitMs < 0 || snapshotEvery < 0 || maxPollIntervalMs < 1) {
            throw new IllegalArgumentException("prepareWaitMs and snapshotEvery must be >= 0 and maxPollIntervalMs >= 1");
        }
        models = models == null ? Map.of() : Map.copyOf(models);
    }

    /**
     * One model id.
     *
     * @param path             model directory or llama2.c file
     * @param editor           editing algorithm, e.g. {@code nse+prune}
     * @param hyperparameters  resource name or JSON file (see EditHyperparameters#load)
     * @param device           {@code cpu} or {@code gpu}
     * @param c0               the corpus of C0 and how many keys estimate it
     * @param heldOut          held-out text for perplexity drift: a file or {@value #SAMPLED_STORIES}
     * @param localityPrompts  unrelated prompts whose predictions an edit should leave alone
     * @param seed             seed of the editor's context prefixes
     * @param prepareGroupSize G: NSE's targets are computed together for sequences g·G+1 .. (g+1)·G, groups chosen by
     *                         sequence number so that a restarted worker prepares exactly the same groups
     * @param prepareAhead     whole prepare groups queued behind the current batch whose targets a thread of their own
     *                         computes while earlier batches are applied (default {@value #DEFAULT_PREPARE_AHEAD}; 0: a
     *                         group's targets are computed when its first batch comes)
     * @param evaluation       sample sizes of the evaluation
     */
    public record ModelSettings(String path, String editor, String hyperparameters, String device, C0 c0, String heldOut,
                                List<String> localityPrompts, long seed, int prepareGroupSize, Integer prepareAhead,
                                EvaluationSettings evaluation) {
        public ModelSettings {
            require(path, "path");
            require(hyperparameters, "hyperparameters");
            require(heldOut, "heldOut");
            if (c0 == null) {
                throw new IllegalArgumentException("no c0 given: {\"corpus\": FILE or \"" + SAMPLED_STORIES + "\", \"samples\": N}");
            }
            editor = editor == null ? "nse+prune" : editor;
            device = device == null ? "cpu" : device.toLowerCase(Locale.ROOT);
            if (!device.equals("cpu") && !device.equals("gpu")) {
                throw new IllegalArgumentException("device must be cpu or gpu, got '" + device + "'");
            }
            if (localityPrompts == null || localityPrompts.isEmpty()) {
                throw new IllegalArgumentException("no localityPrompts given: prompts no edit is about, whose predictions the evaluation compares with the base");
            }
            localityPrompts = List.copyOf(localityPrompts);
            prepareGroupSize = prepareGroupSize == 0 ? 8 : prepareGroupSize;
            if (prepareGroupSize < 1) {
                throw new IllegalArgumentException("prepareGroupSize must be at least 1, got " + prepareGroupSize);
            }
            prepareAhead = prepareAhead == null ? DEFAULT_PREPARE_AHEAD : prepareAhead;
            if (prepareAhead < 0) {
                throw new IllegalArgumentException("prepareAhead must be at least 0, got " + prepareAhead);
            }
            evaluation = evaluation == null ? EvaluationSettings.DEFAULTS : evaluation;
        }
    }

    /**
     * @param corpus  a text file, or {@value #SAMPLED_STORIES}
     * @param samples keys (token positions) averaged; 0: the hyperparameters' own count
     */
    public record C0(@JsonProperty("corpus") String corpus, @JsonProperty("samples") int samples) {
        public C0 {
            require(corpus, "c0.corpus");
            if (samples < 0) {
                throw new IllegalArgumentException("c0.samples must be >= 0, got " + samples);
            }
        }
    }

    /** Reads the settings; an IllegalArgumentException names the file and what is wrong with it. */
    public static WorkerSettings load(Path file) {
        try {
            return JSON.readValue(Files.readAllBytes(file), WorkerSettings.class);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("no worker configuration at " + file, e);
        } catch (UnrecognizedPropertyException e) {
            throw new IllegalArgumentException(file + ": unknown setting '" + e.getPropertyName() + "' at " + path(e)
                    + " (known: " + e.getKnownPropertyIds() + ")", e);
        } catch (JsonMappingException e) {
            Throwable cause = e.getCause() instanceof IllegalArgumentException invalid ? invalid : e;
            throw new IllegalArgumentException(file + ": " + (path(e).isEmpty() ? "" : path(e) + ": ")
                    + (cause.getMessage() == null ? cause.toString() : cause.getMessage().lines().findFirst().orElse("")), e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read worker configuration " + file + ": " + e.getMessage(), e);
        }
    }

    /** The settings of the models the worker is asked to edit, in that order; each one must be configured. */
    public Map<String, ModelSettings> select(List<String> modelIds) {
        if (modelIds.isEmpty()) {
            throw new IllegalArgumentException("no models to edit given");
        }
        Map<String, ModelSettings> selected = new LinkedHashMap<>();
        List<String> missing = new ArrayList<>();
        for (String id : modelIds) {
            ModelSettings model = models.get(id);
            if (model == null) {
                missing.add(id);
            } else {
                selected.put(id, model);
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("models " + missing + " are not configured (configured: "
                    + models.keySet().stream().sorted().collect(Collectors.joining(", ")) + ")");
        }
        return selected;
    }

    private static String path(JsonMappingException e) {
        return e.getPath().stream()
                .map(ref -> ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]")
                .collect(Collectors.joining("."));
    }

    private static void require(String value, String field) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("no " + field + " given");
        }
    }
}

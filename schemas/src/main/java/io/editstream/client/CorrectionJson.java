package io.editstream.client;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;

import io.editstream.events.CorrectionEvent;

/**
 * Maps one JSON object to a {@link CorrectionEvent}. Two shapes are accepted:
 * <ul>
 * <li>a CounterFact record in EasyEdit format ({@code case_id, prompt, subject, ground_truth, target_new,
 * rephrase_prompt, locality_prompt, locality_ground_truth}): ground_truth becomes target_true, rephrase_prompt the
 * paraphrases, locality_prompt the neighborhood prompts; locality_ground_truth has no place in the event and is
 * dropped (CounterFact scores neighborhood prompts against target_true);</li>
 * <li>the event's own fields, snake_case as in {@code CorrectionEvent.avsc}.</li>
 * </ul>
 * A record is read as CounterFact when it has any field only CounterFact records have. Unknown fields are an error
 * rather than ignored, so that a misspelt {@code targetnew} is reported instead of silently lost.
 *
 * <p>The correction id, when the record has none, must be stable across reruns so that producing the same file twice
 * is deduplicated downstream: {@code cf-<case_id>@<model>} for a CounterFact case, otherwise a hash of the fact.
 */
public final class CorrectionJson {
    private static final Set<String> COUNTERFACT_ONLY = Set.of(
            "case_id", "ground_truth", "rephrase_prompt", "locality_prompt", "locality_ground_truth");
    private static final Set<String> COUNTERFACT_FIELDS = Set.of("case_id", "prompt", "subject", "ground_truth",
            "target_new", "rephrase_prompt", "locality_prompt", "locality_ground_truth");
    private static final Set<String> EVENT_FIELDS = Set.of("correction_id", "model_id", "subject", "prompt",
            "target_new", "target_true", "paraphrases", "neighborhood_prompts", "source", "confidence", "detected_at",
            "trace_context");
    private static final double DEFAULT_CONFIDENCE = 1.0;

    private CorrectionJson() {
    }

    /** The event a JSON object describes, with {@code defaults} for what it leaves out. */
    public static CorrectionEvent toEvent(JsonNode record, CorrectionDefaults defaults)
            throws MalformedCorrectionException {
        if (!record.isObject()) {
            throw new MalformedCorrectionException("expected a JSON object, got " + kind(record));
        }
        return isCounterFact(record) ? fromCounterFact(record, defaults) : fromEventFields(record, defaults);
    }

    private static boolean isCounterFact(JsonNode record) {
        return record.properties().stream().anyMatch(field -> COUNTERFACT_ONLY.contains(field.getKey()));
    }

    private static CorrectionEvent fromCounterFact(JsonNode record, CorrectionDefaults defaults)
            throws MalformedCorrectionException {
        rejectUnknownFields(record, COUNTERFACT_FIELDS, "a CounterFact record");
        String model = model(null, defaults);
        String subject = requiredText(record, "subject");
        String prompt = requiredText(record, "prompt");
        String targetNew = requiredText(record, "target_new");
        String caseId = caseId(record);
        return CorrectionEvent.newBuilder()
                .setCorrectionId(caseId != null ? "cf-" + caseId + "@" + model
                        : derivedId(model, subject, prompt, targetNew))
                .setModelId(model)
                .setSubject(subject)
                .setPrompt(prompt)
                .setTargetNew(targetNew)
                .setTargetTrue(optionalText(record, "ground_truth"))
                .setParaphrases(textOrTexts(record, "rephrase_prompt"))
                .setNeighborhoodPrompts(textOrTexts(record, "locality_prompt"))
                .setSource(defaults.source())
                .setConfidence(DEFAULT_CONFIDENCE)
                .setDetectedAt(defaults.detectedAt())
                .setTraceContext(Map.of())
                .build();
    }

    private static CorrectionEvent fromEventFields(JsonNode record, CorrectionDefaults defaults)
            throws MalformedCorrectionException {
        rejectUnknownFields(record, EVENT_FIELDS, "a correction event");
        String model = model(optionalText(record, "model_id"), defaults);
        String subject = requiredText(record, "subject");
        String prompt = requiredText(record, "prompt");
        String targetNew = requiredText(record, "target_new");
        String correctionId = optionalText(record, "correction_id");
        String source = optionalText(record, "source");
        return CorrectionEvent.newBuilder()
                .setCorrectionId(correctionId != null ? correctionId : derivedId(model, subject, prompt, targetNew))
                .setModelId(model)
                .setSubject(subject)
                .setPrompt(prompt)
                .setTargetNew(targetNew)
                .setTargetTrue(optionalText(record, "target_true"))
                .setParaphrases(texts(record, "paraphrases"))
                .setNeighborhoodPrompts(texts(record, "neighborhood_prompts"))
                .setSource(source != null ? source : defaults.source())
                .setConfidence(confidence(record))
                .setDetectedAt(detectedAt(record, defaults))
                .setTraceContext(traceContext(record))
                .build();
    }

    private static void rejectUnknownFields(JsonNode record, Set<String> known, String shape)
            throws MalformedCorrectionException {
        for (Map.Entry<String, JsonNode> field : record.properties()) {
            String name = field.getKey();
            if (!known.contains(name)) {
                throw new MalformedCorrectionException("unknown field '" + name + "' for " + shape
                        + " (fields: " + String.join(", ", new TreeSet<>(known)) + ")");
            }
        }
    }

    private static String model(String recordModel, CorrectionDefaults defaults) throws MalformedCorrectionException {
        if (recordModel == null && defaults.modelId() == null) {
            throw new MalformedCorrectionException("no model: the record has no model_id and no default model is set");
        }
        if (recordModel != null && defaults.modelId() != null && !recordModel.equals(defaults.modelId())) {
            throw new MalformedCorrectionException("model_id '" + recordModel + "' differs from the requested model '"
                    + defaults.modelId() + "'");
        }
        return recordModel != null ? recordModel : defaults.modelId();
    }

    private static String requiredText(JsonNode record, String field) throws MalformedCorrectionException {
        String value = optionalText(record, field);
        if (value == null) {
            throw new MalformedCorrectionException("missing field '" + field + "'");
        }
        return value;
    }

    private static String optionalText(JsonNode record, String field) throws MalformedCorrectionException {
        JsonNode value = record.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isTextual()) {
            throw new MalformedCorrectionException("field '" + field + "' must be a string, got " + kind(value));
        }
        return value.textValue();
    }

    private static String caseId(JsonNode record) throws MalformedCorrectionException {
        JsonNode value = record.get("case_id");
        if (value == null || value.isNull()) {
            return null;
        }
        if (value.isIntegralNumber() || (value.isTextual() && !value.textValue().isBlank())) {
            return value.asText();
        }
        throw new MalformedCorrectionException("field 'case_id' must be an integer or a string, got " + kind(value));
    }

    /** EasyEdit files carry one rephrase/locality prompt as a string; some variants carry a list. */
    private static List<String> textOrTexts(JsonNode record, String field) throws MalformedCorrectionException {
        JsonNode value = record.get(field);
        if (value != null && value.isTextual()) {
            return List.of(value.textValue());
        }
        return texts(record, field);
    }

    private static List<String> texts(JsonNode record, String field) throws MalformedCorrectionException {
        JsonNode value = record.get(field);
        if (value == null || value.isNull()) {
            return List.of();
        }
        if (!value.isArray()) {
            throw new MalformedCorrectionException("field '" + field + "' must be an array of strings, got " + kind(value));
        }
        List<String> items = new ArrayList<>(value.size());
        for (JsonNode item : value) {
            if (!item.isTextual()) {
                throw new MalformedCorrectionException("field '" + field + "' must hold only strings, found " + kind(item));
            }
            items.add(item.textValue());
        }
        return items;
    }

    private static double confidence(JsonNode record) throws MalformedCorrectionException {
        JsonNode value = record.get("confidence");
        if (value == null || value.isNull()) {
            return DEFAULT_CONFIDENCE;
        }
        if (!value.isNumber()) {
            throw new MalformedCorrectionException("field 'confidence' must be a number, got " + kind(value));
        }
        return value.doubleValue();
    }

    private static Instant detectedAt(JsonNode record, CorrectionDefaults defaults) throws MalformedCorrectionException {
        JsonNode value = record.get("detected_at");
        if (value == null || value.isNull()) {
            return defaults.detectedAt();
        }
        if (value.isIntegralNumber()) {
            return Instant.ofEpochMilli(value.longValue());
        }
        if (value.isTextual()) {
            try {
                return Instant.parse(value.textValue());
            } catch (DateTimeParseException e) {
                throw new MalformedCorrectionException("field 'detected_at' is not an ISO-8601 instant such as "
                        + "2024-05-01T12:00:00Z: '" + value.textValue() + "'");
            }
        }
        throw new MalformedCorrectionException(
                "field 'detected_at' must be epoch milliseconds or an ISO-8601 instant, got " + kind(value));
    }

    private static Map<String, String> traceContext(JsonNode record) throws MalformedCorrectionException {
        JsonNode value = record.get("trace_context");
        if (value == null || value.isNull()) {
            return Map.of();
        }
        if (!value.isObject()) {
            throw new MalformedCorrectionException("field 'trace_context' must be an object of strings, got " + kind(value));
        }
        Map<String, String> context = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : value.properties()) {
            if (!entry.getValue().isTextual()) {
                throw new MalformedCorrectionException("trace_context '" + entry.getKey() + "' must be a string, got "
                        + kind(entry.getValue()));
            }
            context.put(entry.getKey(), entry.getValue().textValue());
        }
        return context;
    }

    /** A stable id for a record that brings none: the same fact for the same model always gets the same id. */
    static String derivedId(String model, String subject, String prompt, String targetNew) {
        try {
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            byte[] digest = sha256.digest(String.join("\u0000", model, subject, prompt, targetNew)
                    .getBytes(StandardCharsets.UTF_8));
            return "fact-" + HexFormat.of().formatHex(digest, 0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    private static String kind(JsonNode node) {
        return node.getNodeType().name().toLowerCase(Locale.ROOT);
    }
}

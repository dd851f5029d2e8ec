package io.editstream.streams;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.Serializer;

import io.editstream.events.CorrectionEvent;
import io.editstream.events.DeadLetterReason;
import io.editstream.events.SerdeSettings;

/**
 * A generated stream of correction records as detectors would send them, with what the topology must make of it:
 * unique valid corrections for a few models, exact duplicates (the same bytes again), semantic duplicates (a new id
 * for the same fact and target), and malformed records (random bytes, a writer schema missing a required field,
 * an unknown model). Each model's records are sent by one producer thread in event-time order displaced by at most
 * {@code maxDisplacement}, which must be less than the topology's grace period; a record's send order is its time
 * on the stream's timeline (event time plus its displacement), so the stream can be played out in real time.
 */
final class MixedCorrectionStream {
    /** One record to send: its thread, its position in that thread's order, and its exact bytes. */
    record Outgoing(int thread, long sendOrder, byte[] key, byte[] value) {
    }

    /** A unique valid correction, as it must appear on edit-requests (under any of its ids). */
    record ExpectedEdit(String model, String subject, Instant detectedAt, String correctionId, List<String> ids) {
    }

    /** Event time between a model's consecutive corrections. */
    private static final long SPACING_MS = 4;

    final List<Outgoing> records = new ArrayList<>();
    final Map<String, List<ExpectedEdit>> expectedByModel = new HashMap<>();
    /** Hex of each malformed record's value bytes → the reason it must be refused for. */
    final Map<String, DeadLetterReason> expectedDeadLetters = new HashMap<>();

    MixedCorrectionStream(List<String> models, int total, double duplicateShare, double malformedShare,
            Duration maxDisplacement, int threads, String topic, SerdeSettings serdes, long seed) {
        Random random = new Random(seed);
        Instant base = Instant.now().minus(Duration.ofMinutes(1));
        Serializer<CorrectionEvent> serializer = serdes.valueSerde(CorrectionEvent.class).serializer();
        int malformed = (int) Math.round(total * malformedShare);
        int duplicates = (int) Math.round(total * duplicateShare);
        int unique = total - malformed - duplicates;
        long jitter = maxDisplacement.toMillis();

        List<CorrectionEvent> uniques = new ArrayList<>();
        for (int i = 0; i < unique; i++) {
            String model = models.get(i % models.size());
            int n = i / models.size();
            CorrectionEvent c = correction(model + "-c" + n, model, "subject " + n, "target " + (n % 97),
                    base.plusMillis(n * SPACING_MS));
            uniques.add(c);
            expectedByModel.computeIfAbsent(model, m -> new ArrayList<>())
                    .add(new ExpectedEdit(model, c.getSubject(), c.getDetectedAt(), c.getCorrectionId(),
                            new ArrayList<>(List.of(c.getCorrectionId()))));
            add(c, serializer, topic, threads, models, jitter, random);
        }
        for (int i = 0; i < duplicates; i++) {
            int pick = random.nextInt(unique);
            CorrectionEvent original = uniques.get(pick);
            if (i % 2 == 0) {
                add(original, serializer, topic, threads, models, jitter, random); // a producer retry
            } else {
                CorrectionEvent again = CorrectionEvent.newBuilder(original)
                        .setCorrectionId(original.getCorrectionId() + "-again-" + i).setSource("second-detector/2")
                        .build();
                expectedByModel.get(original.getModelId()).get(pick / models.size()).ids().add(again.getCorrectionId());
                add(again, serializer, topic, threads, models, jitter, random);
            }
        }
        Serializer<Object> legacy = legacySerializer(serdes);
        for (int i = 0; i < malformed; i++) {
            String model = models.get(random.nextInt(models.size()));
            byte[] value;
            DeadLetterReason reason;
            byte[] key = model.getBytes(StandardCharsets.UTF_8);
            switch (i % 3) {
                case 0 -> {
                    value = new byte[1 + random.nextInt(200)];
                    random.nextBytes(value);
                    reason = DeadLetterReason.UNDESERIALIZABLE;
                }
                case 1 -> {
                    value = legacy.serialize(topic, withoutSource(correction("legacy-" + i, model, "s", "t", base)));
                    reason = DeadLetterReason.MISSING_FIELD;
                }
                default -> {
                    String unknown = "unknown-model-" + (i % 4);
                    key = unknown.getBytes(StandardCharsets.UTF_8);
                    value = serializer.serialize(topic, correction("stray-" + i, unknown, "s", "t", base));
                    reason = DeadLetterReason.UNKNOWN_MODEL;
                }
            }
            expectedDeadLetters.put(HexFormat.of().formatHex(value), reason);
            long at = base.toEpochMilli() + random.nextLong(Math.max(1, unique / models.size() * SPACING_MS));
            records.add(new Outgoing(random.nextInt(threads), at, key, value));
        }
        records.sort(Comparator.comparingLong(Outgoing::sendOrder));
        expectedByModel.values().forEach(edits -> edits.sort(Comparator.comparing(ExpectedEdit::detectedAt)
                .thenComparing(ExpectedEdit::correctionId)));
    }

    int expectedEdits() {
        return expectedByModel.values().stream().mapToInt(List::size).sum();
    }

    /** The records one thread sends, in its order. */
    List<Outgoing> forThread(int thread) {
        return records.stream().filter(r -> r.thread() == thread).toList();
    }

    /** When a record is due, counted from the start of sending: the stream plays out in real time. */
    Duration offset(Outgoing record) {
        return Duration.ofMillis(record.sendOrder() - records.get(0).sendOrder());
    }

    /** From the first record due to the last. */
    Duration span() {
        return offset(records.get(records.size() - 1));
    }

    private void add(CorrectionEvent c, Serializer<CorrectionEvent> serializer, String topic, int threads,
            List<String> models, long jitter, Random random) {
        // A model's records all go through one thread, so the displacement bound holds on the wire too.
        int thread = models.indexOf(c.getModelId()) % threads;
        long sendOrder = c.getDetectedAt().toEpochMilli() + (jitter == 0 ? 0 : random.nextLong(jitter));
        records.add(new Outgoing(thread, sendOrder, c.getModelId().getBytes(StandardCharsets.UTF_8),
                serializer.serialize(topic, c)));
    }

    static CorrectionEvent correction(String id, String model, String subject, String target, Instant at) {
        return CorrectionEvent.newBuilder()
                .setCorrectionId(id)
                .setModelId(model)
                .setSubject(subject)
                .setPrompt("{} is located in")
                .setTargetNew(target)
                .setTargetTrue(null)
                .setSource("it-detector/1")
                .setConfidence(0.8)
                .setDetectedAt(at)
                .build();
    }

    /** The correction as written by an old producer whose schema lacks the required {@code source}. */
    private static GenericRecord withoutSource(CorrectionEvent c) {
        GenericRecord record = new GenericData.Record(TopologyFixture.WITHOUT_SOURCE);
        for (Schema.Field field : TopologyFixture.WITHOUT_SOURCE.getFields()) {
            Object value = c.get(field.name());
            record.put(field.name(), value instanceof Instant at ? at.toEpochMilli() : value);
        }
        return record;
    }

    /**
     * The production serializer class, registering the old schema under an artifact of its own, so that it does not
     * become the latest version of the corrections topic's schema (which producers with find-latest would pick up).
     */
    @SuppressWarnings("unchecked")
    private static Serializer<Object> legacySerializer(SerdeSettings serdes) {
        Map<String, Object> config = new HashMap<>(serdes.config());
        config.put("apicurio.registry.artifact.artifact-id", "legacy-correction-event");
        config.put("apicurio.registry.find-latest", "false");
        try {
            Serializer<Object> serializer = (Serializer<Object>) Class.forName(serdes.serializerClass())
                    .getDeclaredConstructor().newInstance();
            serializer.configure(config, false);
            return serializer;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }}

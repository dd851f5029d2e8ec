package io.editstream.streams;

import static io.editstream.streams.TopologyFixture.correction;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import io.editstream.events.CorrectionEvent;
import io.editstream.events.DeadLetter;
import io.editstream.events.DeadLetterReason;
import io.editstream.events.SerdeSettings;

/** Every refusal reaches the DLQ with its reason and the original bytes, and the application keeps going. */
class ValidationTest {
    private static final Set<DeadLetterReason> COVERED = EnumSet.noneOf(DeadLetterReason.class);

    @TempDir
    Path stateDir;

    /** A raw record and the reason it must be refused for. */
    record Case(String name, DeadLetterReason reason, byte[] key, byte[] value, String correctionId) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> refusals() {
        CorrectionEvent valid = correction("c-1", "Rome", "France", 0);
        Random random = new Random(7);
        byte[] garbage = new byte[64];
        random.nextBytes(garbage);
        return Stream.of(
                refused("random bytes", DeadLetterReason.UNDESERIALIZABLE, model(), garbage, null),
                refused("tombstone", DeadLetterReason.UNDESERIALIZABLE, model(), null, null),
                refused("writer schema without a required field", DeadLetterReason.MISSING_FIELD, model(),
                        withoutSource(valid), null),
                refused("empty subject", DeadLetterReason.EMPTY_FIELD, model(),
                        bytes(with(valid, c -> c.setSubject(" "))), "c-1"),
                refused("prompt without subject", DeadLetterReason.PROMPT_WITHOUT_SUBJECT, model(),
                        bytes(with(valid, c -> c.setPrompt("The city is located in"))), "c-1"),
                refused("two slots in the prompt", DeadLetterReason.PROMPT_WITHOUT_SUBJECT, model(),
                        bytes(with(valid, c -> c.setPrompt("{} and {} are located in"))), "c-1"),
                refused("target equals target_true", DeadLetterReason.TARGET_EQUALS_TRUE, model(),
                        bytes(with(valid, c -> c.setTargetTrue(" France"))), "c-1"),
                refused("oversized prompt", DeadLetterReason.OVERSIZED_TEXT, model(),
                        bytes(with(valid, c -> c.setPrompt("{} is" + " very".repeat(1_000) + " located in"))), "c-1"),
                refused("too many paraphrases", DeadLetterReason.OVERSIZED_TEXT, model(),
                        bytes(with(valid, c -> c.setParaphrases(Collections.nCopies(65, "Rome is in")))), "c-1"),
                refused("unknown model", DeadLetterReason.UNKNOWN_MODEL, "gpt-5".getBytes(StandardCharsets.UTF_8),
                        bytes(with(valid, c -> c.setModelId("gpt-5"))), "c-1"),
                refused("confidence above 1", DeadLetterReason.INVALID_CONFIDENCE, model(),
                        bytes(with(valid, c -> c.setConfidence(1.5))), "c-1"),
                refused("confidence NaN", DeadLetterReason.INVALID_CONFIDENCE, model(),
                        bytes(with(valid, c -> c.setConfidence(Double.NaN))), "c-1"),
                refused("key is another model", DeadLetterReason.KEY_MISMATCH,
                        TopologyFixture.OTHER_MODEL.getBytes(StandardCharsets.UTF_8), bytes(valid), "c-1"),
                refused("no key", DeadLetterReason.KEY_MISMATCH, null, bytes(valid), "c-1"),
                refused("prompt of 3-byte characters over the byte limit", DeadLetterReason.OVERSIZED_TEXT, model(),
                        bytes(with(valid, c -> c.setPrompt("{} \u20ac" + "\u20ac".repeat(1_400)))), "c-1"),
                refused("value over the correction byte limit", DeadLetterReason.OVERSIZED_RECORD, model(),
                        bigGarbage(300 * 1024), null),
                refused("subject with the placeholder", DeadLetterReason.SUBJECT_WITH_SLOT, model(),
                        bytes(with(valid, c -> c.setSubject("Rome {}"))), "c-1"),
                refused("invalid UTF-8 in target_new", DeadLetterReason.INVALID_TEXT, model(),
                        invalidUtf8Target(valid), "c-1"),
                refused("detected more than the dedup window ago", DeadLetterReason.TOO_OLD, model(),
                        bytes(with(valid, c -> c.setDetectedAt(TopologyFixture.START.minus(Duration.ofDays(8))))),
                        "c-1"),
                refused("detected far in the future", DeadLetterReason.OTHER, model(),
                        bytes(with(valid, c -> c.setDetectedAt(TopologyFixture.START.plus(Duration.ofHours(1))))),
                        "c-1"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void refusedRecordGoesToTheDeadLetterTopicWithItsReasonAndBytes(Case refusal) {
        COVERED.add(refusal.reason());
        try (TopologyFixture f = new TopologyFixture(TopologyFixture.settings(), stateDir)) {
            f.sendRaw(refusal.key(), refusal.value());
            f.send(correction("c-after", "Berlin", "Spain", 10)); // the app is still alive and processing

            List<DeadLetter> deadLetters = f.deadLetters();
            assertEquals(1, deadLetters.size());
            DeadLetter dl = deadLetters.get(0);
            assertEquals(refusal.reason(), dl.getReason(), dl.getMessage());
            assertTrue(!dl.getMessage().isBlank());
            assertEquals(TopologyFixture.settings().correctionsTopic(), dl.getSourceTopic());
            assertEquals(0, dl.getSourcePartition());
            assertEquals(0L, dl.getSourceOffset());
            assertBytes(refusal.key(), dl.getOriginalKey());
            assertBytes(refusal.value(), dl.getOriginalValue());
            assertEquals(refusal.correctionId(), dl.getCorrectionId());
            assertEquals(TopologyFixture.START, dl.getRefusedAt());
            assertEquals(1, f.counter(PipelineMetrics.DEAD_LETTERS));

            f.advanceWallClock(Duration.ofSeconds(3));
            assertEquals(List.of("c-after"), ReorderingTest.ids(f.edits()));
        }
    }

    @AfterAll
    static void everyReasonIsExercised() {
        assertEquals(EnumSet.allOf(DeadLetterReason.class), COVERED);
    }

    @Test
    void validCorrectionWithTheSubjectSpelledOutIsNormalisedToATemplate() {
        try (TopologyFixture f = new TopologyFixture(TopologyFixture.settings(), stateDir)) {
            f.send(with(correction("c-1", "Rome", "France", 0), c -> c.setPrompt("Rome is located in")));
            f.advanceWallClock(Duration.ofSeconds(3));
            assertEquals("{} is located in", f.edits().get(0).getPromptTemplate());
            assertEquals(List.of(), f.deadLetters());
        }
    }

    private static Arguments refused(String name, DeadLetterReason reason, byte[] key, byte[] value, String id) {
        return Arguments.of(new Case(name, reason, key, value, id));
    }

    private static byte[] model() {
        return TopologyFixture.MODEL.getBytes(StandardCharsets.UTF_8);
    }

    private static CorrectionEvent with(CorrectionEvent base, Consumer<CorrectionEvent> change) {
        CorrectionEvent copy = CorrectionEvent.newBuilder(base).build();
        change.accept(copy);
        return copy;
    }

    private static byte[] bytes(CorrectionEvent correction) {
        SerdeSettings serdes = TopologyFixture.serdes();
        return serdes.valueSerde(CorrectionEvent.class).serializer().serialize("t", correction);
    }

    /** The correction written by a producer whose schema lacks the required {@code source} field. */
    private static byte[] withoutSource(CorrectionEvent correction) {
        GenericRecord record = new GenericData.Record(TopologyFixture.WITHOUT_SOURCE);
        for (var field : TopologyFixture.WITHOUT_SOURCE.getFields()) {
            Object value = correction.get(field.name());
            record.put(field.name(), value instanceof Instant at ? at.toEpochMilli() : value);
        }
        try {
            ByteBuffer buffer = new BinaryMessageEncoder<GenericRecord>(GenericData.get(),
                    TopologyFixture.WITHOUT_SOURCE).encode(record);
            byte[] out = new byte[buffer.remaining()];
            buffer.get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] bigGarbage(int size) {
        byte[] value = new byte[size];
        new Random(11).nextBytes(value);
        return value;
    }

    /** A valid correction whose target_new bytes are made invalid UTF-8 on the wire (a lone continuation byte). */
    private static byte[] invalidUtf8Target(CorrectionEvent valid) {
        byte[] value = bytes(with(valid, c -> c.setTargetNew("Fr@nce")));
        byte[] marker = "Fr@nce".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i + marker.length <= value.length; i++) {
            if (Arrays.equals(value, i, i + marker.length, marker, 0, marker.length)) {
                value[i + 2] = (byte) 0x80;
                return value;
            }
        }
        throw new IllegalStateException("target_new not found in the encoded correction");
    }

    @Test
    void aTextWithItsOwnReplacementCharacterIsValid() {
        try (TopologyFixture f = new TopologyFixture(TopologyFixture.settings(), stateDir)) {
            f.send(with(correction("c-1", "Rome", "Fr\uFFFDnce", 0), c -> c.setTargetTrue(null)));
            f.advanceWallClock(Duration.ofSeconds(3));
            assertEquals("Fr\uFFFDnce", f.edits().get(0).getTargetNew());
            assertEquals(List.of(), f.deadLetters());
        }
    }

    @Test
    void aDeadLetterCarriesTheOriginalsDigestAndCutsWhatWouldNotFit() throws Exception {
        TopologySettings settings = TopologySettings.fromProperties(props(TopologySettings.DLQ_MAX_ORIGINAL_BYTES,
                "1000"));
        try (TopologyFixture f = new TopologyFixture(settings, stateDir)) {
            byte[] value = bigGarbage(5_000);
            f.sendRaw(model(), value);
            DeadLetter dl = f.deadLetters().get(0);
            assertTrue(dl.getOriginalTruncated());
            assertEquals(1000 - model().length, dl.getOriginalValue().remaining());
            assertEquals(5_000L, dl.getOriginalValueLength());
            assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(value)),
                    dl.getOriginalValueSha256());
            assertBytes(model(), dl.getOriginalKey());
        }
    }

    private static Properties props(String key, String value) {
        Properties p = new Properties();
        p.setProperty(TopologySettings.MODELS, String.join(",", TopologyFixture.MODELS));
        p.setProperty(key, value);
        return p;
    }

    private static void assertBytes(byte[] expected, ByteBuffer actual) {
        if (expected == null) {
            assertNull(actual);
            return;
        }
        byte[] got = new byte[actual.remaining()];
        actual.duplicate().get(got);
        assertArrayEquals(expected, got);
    }
}

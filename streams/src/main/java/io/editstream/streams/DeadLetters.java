package io.editstream.streams;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;

import io.editstream.corrections.EncodedSize;
import io.editstream.events.DeadLetter;
import io.editstream.events.DeadLetterReason;

/**
 * Builds dead letters that always fit in a record: the original key and value are kept whole up to
 * {@code maxOriginalBytes} together and cut beyond it (the dead letter then says so, and carries their lengths and
 * SHA-256 digests either way); the message and correction id are cut to a few KiB.
 */
final class DeadLetters {
    /** Most bytes of a dead letter's key: a model id is short, a longer key is garbage worth a prefix. */
    static final int MAX_KEY_BYTES = 1024;
    /** Most bytes of the message, and of the correction id (a refused correction's id may be anything). */
    static final int MAX_TEXT_BYTES = 4096;

    private final int maxOriginalBytes;

    DeadLetters(int maxOriginalBytes) {
        this.maxOriginalBytes = maxOriginalBytes;
    }

    /** Where a refused record was read: its topic, partition and offset. */
    record Source(String topic, int partition, long offset) {
        @Override
        public String toString() {
            return topic + "-" + partition + "@" + offset;
        }
    }

    DeadLetter of(Source source, byte[] key, byte[] value, DeadLetterReason reason, String message,
            String correctionId, long refusedAt) {
        byte[] keptKey = keptKey(key);
        int valueBudget = Math.max(0, maxOriginalBytes - (keptKey == null ? 0 : keptKey.length));
        byte[] keptValue = value == null || value.length <= valueBudget ? value : Arrays.copyOf(value, valueBudget);
        return DeadLetter.newBuilder()
                .setReason(reason)
                .setMessage(cut(message))
                .setSourceTopic(source.topic())
                .setSourcePartition(source.partition())
                .setSourceOffset(source.offset())
                .setOriginalKey(keptKey == null ? null : ByteBuffer.wrap(keptKey))
                .setOriginalValue(keptValue == null ? null : ByteBuffer.wrap(keptValue))
                .setOriginalTruncated(keptKey != key || keptValue != value)
                .setOriginalKeyLength(key == null ? null : (long) key.length)
                .setOriginalKeySha256(key == null ? null : sha256(key))
                .setOriginalValueLength(value == null ? null : (long) value.length)
                .setOriginalValueSha256(value == null ? null : sha256(value))
                .setCorrectionId(correctionId == null ? null : cut(correctionId))
                .setRefusedAt(Instant.ofEpochMilli(refusedAt))
                .build();
    }

    /** The key a dead letter is written with: the original key, or its first {@link #MAX_KEY_BYTES}. */
    byte[] keptKey(byte[] key) {
        int cap = Math.min(MAX_KEY_BYTES, maxOriginalBytes);
        return key == null || key.length <= cap ? key : Arrays.copyOf(key, cap);
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    /** The text, or its first {@link #MAX_TEXT_BYTES} bytes of UTF-8 (whole characters) and a mark that it was cut. */
    static String cut(String text) {
        if (text.length() * 3L <= MAX_TEXT_BYTES || EncodedSize.utf8Length(text) <= MAX_TEXT_BYTES) {
            return text;
        }
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        try {
            // IGNORE drops the character the cut went through, so the prefix stays valid UTF-8.
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.IGNORE)
                    .decode(ByteBuffer.wrap(bytes, 0, MAX_TEXT_BYTES - 16)) + " [cut from " + bytes.length + " bytes]";
        } catch (CharacterCodingException e) {
            throw new IllegalStateException("a decoder that ignores malformed input threw", e);
        }
    }
}

package io.editstream.streams;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.apache.kafka.common.utils.Bytes;

/**
 * Keys of the reorder buffer: model id, NUL, event time, correction id. Byte order is event-time order within a
 * model (the time is big-endian with the sign bit flipped), ties broken by correction id, so a range scan releases
 * a model's corrections in order. The open batches' edits are keyed the same way, by model and sequence number
 * (with no id), so that a model's stored edits come back in sequence order.
 */
final class BufferKey {
    /** Greater than the first byte of any UTF-8 correction id, so it bounds a scan up to a time inclusive. */
    private static final byte AFTER_ANY_ID = (byte) 0xFF;

    private BufferKey() {
    }

    static Bytes of(String modelId, long eventTime, String correctionId) {
        byte[] id = correctionId.getBytes(StandardCharsets.UTF_8);
        return Bytes.wrap(prefix(modelId, eventTime, id.length).put(id).array());
    }

    /** Below every key of the model whose event time is at least {@code eventTime}. */
    static Bytes from(String modelId, long eventTime) {
        return Bytes.wrap(prefix(modelId, eventTime, 0).array());
    }

    /** Above every key of the model whose event time is at most {@code eventTime}. */
    static Bytes upTo(String modelId, long eventTime) {
        return Bytes.wrap(prefix(modelId, eventTime, 1).put(AFTER_ANY_ID).array());
    }

    static String modelOf(Bytes key) {
        byte[] bytes = key.get();
        int end = 0;
        while (bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }

    private static ByteBuffer prefix(String modelId, long eventTime, int extra) {
        byte[] model = modelId.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(model.length + 1 + Long.BYTES + extra)
                .put(model).put((byte) 0).putLong(eventTime ^ Long.MIN_VALUE);
    }
}

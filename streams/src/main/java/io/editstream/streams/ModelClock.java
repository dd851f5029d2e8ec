package io.editstream.streams;

import java.nio.ByteBuffer;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/**
 * A model's event-time clock for the reorder buffer.
 *
 * @param maxEventTime the latest detected_at seen for the model
 * @param releasedUpTo the latest event time already sequenced; a correction timed before it is late
 */
record ModelClock(long maxEventTime, long releasedUpTo) {

    static final ModelClock START = new ModelClock(Long.MIN_VALUE, Long.MIN_VALUE);

    ModelClock arrived(long eventTime) {
        return new ModelClock(Math.max(maxEventTime, eventTime), releasedUpTo);
    }

    ModelClock released(long eventTime) {
        return new ModelClock(maxEventTime, Math.max(releasedUpTo, eventTime));
    }

    static Serde<ModelClock> serde() {
        return Serdes.serdeFrom(
                (topic, clock) -> clock == null ? null : ByteBuffer.allocate(2 * Long.BYTES)
                        .putLong(clock.maxEventTime).putLong(clock.releasedUpTo).array(),
                (topic, bytes) -> {
                    if (bytes == null) {
                        return null;
                    }
                    ByteBuffer buffer = ByteBuffer.wrap(bytes);
                    return new ModelClock(buffer.getLong(), buffer.getLong());
                });
    }
}

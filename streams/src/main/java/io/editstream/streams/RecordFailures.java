package io.editstream.streams;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which input record each stream thread died on, and how often: a thread that dies on the same record again and
 * again would otherwise be replaced forever while the application reports RUNNING and the partition behind the
 * record stalls. The exception handlers note the record they fail on ({@link #failing}); the uncaught-exception
 * handler asks {@link #onThreadDeath} whether to replace the thread or stop the application.
 */
final class RecordFailures {
    private static final Logger log = LoggerFactory.getLogger(RecordFailures.class);
    /** The config key under which the handlers find this instance (Kafka Streams passes its originals on). */
    static final String CONFIG = "editstream.internal.record-failures";

    /**
     * The record a thread failed on: an input record by topic, partition and offset; or, for an output written
     * outside any input record (by a punctuation releasing held corrections), that output's topic and key and the
     * task that wrote it.
     */
    record Position(String description) {
        static Position of(ErrorHandlerContext context, String outputTopic, byte[] outputKey) {
            if (context.topic() != null) {
                return new Position("the record at " + context.topic() + "-" + context.partition() + " offset "
                        + context.offset());
            }
            if (outputTopic == null) {
                return new Position("a punctuation of task " + context.taskId());
            }
            String key = outputKey == null ? "null"
                    : "'" + DeadLetters.cut(new String(outputKey, StandardCharsets.UTF_8)) + "'";
            return new Position("the record for " + outputTopic + " with key " + key + " (written by task "
                    + context.taskId() + " outside any input record)");
        }

        @Override
        public String toString() {
            return description;
        }
    }

    private final int maxDeathsPerRecord;
    /**
     * The record noted last. One slot rather than one per thread: a producer's error reaches its handler on the
     * producer's network thread and kills the stream thread later; two threads failing at once may swap their
     * records, which delays the stop by a death at most.
     */
    private final AtomicReference<Position> failing = new AtomicReference<>();
    private final Map<Position, Integer> deaths = new ConcurrentHashMap<>();
    private final AtomicReference<String> fatal = new AtomicReference<>();

    RecordFailures(int maxDeathsPerRecord) {
        this.maxDeathsPerRecord = maxDeathsPerRecord;
    }

    /** Notes the input record a stream thread is about to fail on. */
    void failing(ErrorHandlerContext context) {
        failing.set(Position.of(context, null, null));
    }

    /** Notes the output record a stream thread is about to fail on, and the input record it came from if any. */
    void failing(ErrorHandlerContext context, String outputTopic, byte[] outputKey) {
        failing.set(Position.of(context, outputTopic, outputKey));
    }

    /** Called for a dying stream thread: replace it, or stop the application after too many deaths on a record. */
    StreamThreadExceptionResponse onThreadDeath(Throwable e) {
        Position position = failing.getAndSet(null);
        if (position == null) {
            log.error("a corrections stream thread died outside any input record; replacing it", e);
            return StreamThreadExceptionResponse.REPLACE_THREAD;
        }
        int count = deaths.merge(position, 1, Integer::sum);
        if (count < maxDeathsPerRecord) {
            log.error("a corrections stream thread died on {} ({} of {} times); replacing it (its tasks restart "
                    + "from the last commit)", position, count, maxDeathsPerRecord, e);
            return StreamThreadExceptionResponse.REPLACE_THREAD;
        }
        String message = "a stream thread died " + count + " times on " + position + ": " + e
                + (e.getCause() != null ? " (caused by " + e.getCause() + ")" : "");
        fatal.compareAndSet(null, message);
        log.error("stopping the corrections topology: {}", message, e);
        return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    }

    /** Why the application was stopped, once it was. */
    Optional<String> fatal() {
        return Optional.ofNullable(fatal.get());
    }
}

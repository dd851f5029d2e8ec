package io.editstream.streams;

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

    /** A record of an input topic of the topology. */
    record Position(String topic, int partition, long offset) {
        @Override
        public String toString() {
            return topic + "-" + partition + " offset " + offset;
        }
    }

    private final int maxDeathsPerRecord;
    private final Map<String, Position> failingByThread = new ConcurrentHashMap<>();
    private final Map<Position, Integer> deaths = new ConcurrentHashMap<>();
    private final AtomicReference<String> fatal = new AtomicReference<>();

    RecordFailures(int maxDeathsPerRecord) {
        this.maxDeathsPerRecord = maxDeathsPerRecord;
    }

    /** Notes the record the calling stream thread is about to fail on. */
    void failing(ErrorHandlerContext context) {
        if (context.topic() != null) {
            failingByThread.put(Thread.currentThread().getName(),
                    new Position(context.topic(), context.partition(), context.offset()));
        }
    }

    /** Called on the dying stream thread: replace it, or stop the application after too many deaths on a record. */
    StreamThreadExceptionResponse onThreadDeath(Throwable e) {
        Position position = failingByThread.remove(Thread.currentThread().getName());
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
        String message = "a stream thread died " + count + " times on the record at " + position + ": " + e
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

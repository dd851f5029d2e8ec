package io.editstream.streams;

import java.util.Map;

import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.metrics.Sensor;
import org.apache.kafka.streams.processor.api.ProcessingContext;

import io.editstream.events.DeadLetterReason;

/**
 * What the topology refused, dropped, superseded or flagged, counted as Kafka Streams metrics (group
 * {@value #GROUP}, names {@code <counter>-total} and {@code <counter>-rate}, one set per task): visible through
 * {@code KafkaStreams#metrics()}, JMX, and {@code TopologyTestDriver#metrics()}.
 */
public final class PipelineMetrics {
    public static final String GROUP = "stream-editstream-metrics";
    public static final String DEAD_LETTERS = "dead-letters";
    public static final String EXACT_DUPLICATES = "exact-duplicates";
    public static final String SEMANTIC_DUPLICATES = "semantic-duplicates";
    public static final String SUPERSEDED = "superseded";
    public static final String LATE = "late";
    /** Releases forced by a fact whose supersessions reached their byte bound within the grace period. */
    public static final String EARLY_RELEASES = "early-releases";
    /** Records that waited for an unreachable schema registry (parked, then decoded once it answered). */
    public static final String REGISTRY_WAITS = "registry-waits";

    private static final String SCOPE = "editstream";

    private PipelineMetrics() {
    }

    /** The counter of dead letters of one reason ({@code dead-letters-REASON}); {@link #DEAD_LETTERS} counts them all. */
    public static String deadLetters(DeadLetterReason reason) {
        return DEAD_LETTERS + "-" + reason.name();
    }

    /** A counter of one task, registered on first use and shared by that task's processors. */
    static Sensor counter(ProcessingContext context, String counter) {
        return context.metrics().addRateTotalSensor(SCOPE, context.taskId().toString(), counter,
                Sensor.RecordingLevel.INFO);
    }

    /** The sum of a counter over all tasks (and threads) in a metrics snapshot. */
    public static long total(Map<MetricName, ? extends Metric> metrics, String counter) {
        double sum = 0;
        for (var entry : metrics.entrySet()) {
            MetricName name = entry.getKey();
            if (name.group().equals(GROUP) && name.name().equals(counter + "-total")) {
                sum += ((Number) entry.getValue().metricValue()).doubleValue();
            }
        }
        return Math.round(sum);
    }
}

package io.editstream.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.editstream.checkpoint.follow.CheckpointFollower;
import io.editstream.checkpoint.follow.FollowStatus;
import io.editstream.events.DeadLetterReason;
import io.editstream.serving.CompletionServer;
import io.editstream.streams.CorrectionsApp;
import io.editstream.streams.PipelineMetrics;
import io.editstream.streams.TopologySettings;
import io.editstream.worker.EditorWorker;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A command's metrics and health on HTTP (127.0.0.1): {@code GET /metrics} in Prometheus' text format and
 * {@code GET /health} (200 {@code {"status":"UP"}}, or 503 naming what is down). Served on an HTTP server of the
 * command's own (a subscriber's) or on a server of its own ({@link #serve}). Every meter reads the parts it describes
 * when scraped: nothing is counted twice, and the parts need no knowledge of Micrometer.
 */
final class Telemetry implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Telemetry.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    /** Named checks: a problem, or empty when healthy. */
    private final List<Map.Entry<String, Supplier<Optional<String>>>> checks = new CopyOnWriteArrayList<>();
    private HttpServer server;

    MeterRegistry registry() {
        return registry;
    }

    /** Adds {@code /metrics} and {@code /health} to a subscriber's server. */
    void serveOn(CompletionServer completions) {
        completions.addEndpoint("/metrics", this::metrics);
        completions.addEndpoint("/health", this::health);
    }

    /** Serves {@code /metrics} and {@code /health} on a server of its own on 127.0.0.1:{@code port} (0: any free port). */
    void serve(int port) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
        server.createContext("/metrics", this::metrics);
        server.createContext("/health", this::health);
        server.start();
        log.info("metrics on http://127.0.0.1:{}/metrics", port());
    }

    int port() {
        return server.getAddress().getPort();
    }

    void check(String name, Supplier<Optional<String>> problem) {
        checks.add(Map.entry(name, problem));
    }

    /** The topology: corrections in, dead letters by reason, its consumers' lag; healthy while running or rebalancing. */
    void bindStreams(CorrectionsApp app, TopologySettings settings) {
        FunctionCounter.builder("editstream.corrections.in", app, a -> topicTotal(a.metrics(), "records-consumed-total",
                        settings.correctionsTopic()))
                .description("correction records the topology read").register(registry);
        for (DeadLetterReason reason : DeadLetterReason.values()) {
            FunctionCounter.builder("editstream.dead.letters", app, a -> PipelineMetrics.total(a.metrics(), PipelineMetrics.deadLetters(reason)))
                    .tag("reason", reason.name()).description("records the topology refused, by reason").register(registry);
        }
        lag("streams", app::metrics);
        check("streams", () -> app.failure().or(() -> switch (app.state()) {
            case RUNNING, REBALANCING, CREATED -> Optional.empty();
            default -> Optional.of("the topology is " + app.state());
        }));
    }

    /** The worker: its consumer's lag; healthy until its thread fails or it stops a model. */
    void bindWorker(EditorWorker worker) {
        lag("worker", worker::consumerMetrics);
        check("worker", () -> worker.crash().map(e -> "the worker failed: " + e)
                .or(() -> worker.stoppedModels().isEmpty() ? Optional.empty() : Optional.of("stopped models: " + worker.stoppedModels())));
    }

    /** A subscriber: the version it serves and the latest committed; healthy unless it failed for good. */
    void bindFollower(CheckpointFollower follower) {
        String model = follower.status().modelId();
        Gauge.builder("editstream.subscriber.version", follower, f -> f.status().version()).tag("model", model)
                .description("the version the subscriber serves (-1 before the first)").register(registry);
        Gauge.builder("editstream.subscriber.latest.committed", follower, f -> f.status().latestCommitted()).tag("model", model)
                .description("the latest version committed on the checkpoints topic").register(registry);
        check("subscriber " + model, () -> {
            FollowStatus status = follower.status();
            return status.state() == FollowStatus.State.FAILED ? Optional.of("the subscriber failed: " + status.failure()) : Optional.empty();
        });
    }

    private void lag(String client, Supplier<Map<MetricName, ? extends Metric>> metrics) {
        Gauge.builder("editstream.consumer.lag", metrics, m -> maxOf(m.get(), "records-lag-max"))
                .tag("client", client).description("the most records any partition of the client's consumers is behind")
                .register(registry);
    }

    private static double maxOf(Map<MetricName, ? extends Metric> metrics, String name) {
        double max = 0;
        for (var entry : metrics.entrySet()) {
            if (entry.getKey().name().equals(name) && entry.getValue().metricValue() instanceof Number value && !Double.isNaN(value.doubleValue())) {
                max = Math.max(max, value.doubleValue());
            }
        }
        return max;
    }

    /** Kafka Streams' per-topic counter (group stream-topic-metrics), summed over tasks. */
    static long topicTotal(Map<MetricName, ? extends Metric> metrics, String name, String topic) {
        double sum = 0;
        for (var entry : metrics.entrySet()) {
            MetricName metric = entry.getKey();
            if (metric.group().equals("stream-topic-metrics") && metric.name().equals(name) && topic.equals(metric.tags().get("topic"))
                    && entry.getValue().metricValue() instanceof Number value) {
                sum += value.doubleValue();
            }
        }
        return Math.round(sum);
    }

    private void metrics(HttpExchange exchange) throws IOException {
        respond(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape());
    }

    private void health(HttpExchange exchange) throws IOException {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Supplier<Optional<String>>> check : checks) {
            try {
                check.getValue().get().ifPresent(problem -> problems.add(check.getKey() + ": " + problem));
            } catch (RuntimeException e) {
                problems.add(check.getKey() + ": " + EditstreamCommand.describe(e));
            }
        }
        String body = JSON.writeValueAsString(problems.isEmpty() ? Map.of("status", "UP") : Map.of("status", "DOWN", "problems", problems));
        respond(exchange, problems.isEmpty() ? 200 : 503, "application/json", body);
    }

    private static void respond(HttpExchange exchange, int status, String type, String body) throws IOException {
        try (exchange) {
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", type);
            exchange.sendResponseHeaders(status, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    @Override
    public void close() {
        if (server != null) {
            server.stop(0);
        }
        registry.close();
    }
}

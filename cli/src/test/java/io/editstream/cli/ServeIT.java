package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.objects.ObjectStores;
import io.editstream.client.CorrectionPublisher;
import io.editstream.corrections.ValidationRules;
import io.editstream.events.CorrectionEvent;
import io.editstream.events.SerdeSettings;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code editstream serve} on stories260K: a detector's {@link CorrectionPublisher} and plain HTTP reach it at the
 * addresses it prints, its subscriber serves each new version and is moved by the admin endpoint, a second serve on
 * the same data directory continues the chain, and {@code editstream replay} proves the chain from the edit log and
 * names a tampered manifest's version.
 */
class ServeIT {
    private static final String MODEL = "serve-it";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofMinutes(3);
    private final HttpClient http = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    /** Prints its addresses, then runs until interrupted. */
    private final class Serve implements AutoCloseable {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final AtomicInteger exitCode = new AtomicInteger(-1);
        final Thread thread;
        final String bootstrap;
        final String registry;
        final String confluent;
        final String httpBase;

        Serve(Path config) throws InterruptedException {
            CommandLine command = EditstreamCommand.commandLine();
            command.setOut(new PrintWriter(out, true));
            command.setErr(new PrintWriter(err, true));
            thread = new Thread(() -> exitCode.set(command.execute("serve", "--data-dir", dir.resolve("data").toString(),
                    "--worker-config", config.toString(), "--http-port", "0")), "serve-command");
            thread.start();
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!out.toString().contains("Ctrl-C stops it") && thread.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(out.toString().contains("Ctrl-C stops it"), "out: " + out + "\nerr: " + err);
            bootstrap = printed("Kafka bootstrap\\s+(\\S+)");
            registry = printed("schema registry \\(Apicurio\\)\\s+(\\S+)");
            confluent = printed("schema registry \\(Confluent-compatible\\)\\s+(\\S+)");
            httpBase = printed("HTTP \\(" + MODEL + "\\)\\s+(http://\\S+)");
        }

        private String printed(String pattern) {
            Matcher matcher = Pattern.compile(pattern).matcher(out.toString());
            assertTrue(matcher.find(), pattern + " in " + out);
            return matcher.group(1);
        }

        void publish(int from, int to) {
            try (CorrectionPublisher publisher = new CorrectionPublisher(bootstrap, SerdeSettings.apicurio(registry),
                    ValidationRules.forModels(Set.of(MODEL)), Map.of())) {
                for (int i = from; i < to; i++) {
                    publisher.publish(correction(i));
                }
                publisher.flush();
            }
        }

        JsonNode awaitVersion(long version) throws Exception {
            long deadline = System.nanoTime() + WAIT.toNanos();
            JsonNode status = get("/v1/status");
            while (status.get("version").asLong() != version && System.nanoTime() < deadline) {
                Thread.sleep(200);
                status = get("/v1/status");
            }
            assertEquals(version, status.get("version").asLong(), status.toString());
            return status;
        }

        JsonNode get(String path) throws Exception {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(httpBase + path)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), response.body());
            return JSON.readTree(response.body());
        }

        HttpResponse<String> post(String path, String body) throws Exception {
            return http.send(HttpRequest.newBuilder(URI.create(httpBase + path)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
        }

        @Override
        public void close() throws InterruptedException {
            thread.interrupt();
            thread.join(Duration.ofMinutes(2).toMillis());
            assertEquals(0, exitCode.get(), "err: " + err);
        }
    }

    @Test
    void detectorsAndHttpReachItARestartContinuesTheChainAndReplayProvesIt() throws Exception {
        Path config = workerConfig();
        String bootstrap;
        try (Serve serve = new Serve(config)) {
            bootstrap = serve.bootstrap;
            serve.publish(0, 2);
            serve.awaitVersion(2);
            HttpResponse<String> completion = serve.post("/v1/completions", "{\"prompt\": \"Sue was very\", \"max_tokens\": 3}");
            assertEquals(200, completion.statusCode(), completion.body());
            assertEquals(2, JSON.readTree(completion.body()).get("model_version").asLong(), completion.body());
            HttpResponse<String> subjects = http.send(HttpRequest.newBuilder(URI.create(serve.confluent + "/subjects")).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, subjects.statusCode(), subjects.body());
            assertTrue(subjects.body().contains("editstream.corrections"), "the Confluent-compatible API lists the schemas: " + subjects.body());
            // the reachability check of a command accepts the Confluent-compatible form too
            SchemaRegistry.parse(serve.confluent, ClientConfig.none()).requireReachable(Endpoints.CONNECT_TIMEOUT);

            assertMetrics(serve);

            HttpResponse<String> rolledBack = serve.post("/v1/admin/target", "{\"rollback_to\": 1}");
            assertEquals(200, rolledBack.statusCode(), rolledBack.body());
            assertEquals(1, JSON.readTree(rolledBack.body()).get("version").asLong(), rolledBack.body());
            assertEquals(409, serve.post("/v1/admin/target", "{\"rollback_to\": 7}").statusCode(), "a version never committed");
            assertEquals(400, serve.post("/v1/admin/target", "{\"pin\": -1}").statusCode());
            assertEquals(200, serve.post("/v1/admin/target", "{\"follow\": \"latest\"}").statusCode());
            serve.awaitVersion(2);
        }

        try (Serve again = new Serve(config)) {
            assertEquals(bootstrap, again.bootstrap, "the same data directory, the same broker address");
            again.publish(2, 4);
            again.awaitVersion(4);
            Path store = dir.resolve("data").resolve("store");
            try (CheckpointStore checkpoints = new CheckpointStore(ObjectStores.open(store.toString()), 0)) {
                for (long v = 1; v <= 4; v++) {
                    Manifest manifest = checkpoints.manifest(MODEL, v).orElseThrow();
                    assertEquals(v == 1 ? null : Long.valueOf(v - 1), manifest.parentVersion());
                    assertEquals(new Manifest.SequenceRange(v, v), manifest.sequence(), "the topology's sequences continue after the restart");
                }
            }

            String[] replay = {"replay", "--bootstrap", again.bootstrap, "--registry", again.registry, "--store", store.toString(),
                "--model", MODEL};
            CommandLineTest.Run proven = CommandLineTest.run(replay);
            assertEquals(0, proven.exitCode(), proven.err());
            assertTrue(proven.out().contains("versions 1..4 reproduced bit for bit from the edit log"), proven.out());

            tamper(store, 3);
            CommandLineTest.Run tampered = CommandLineTest.run(replay);
            assertEquals(1, tampered.exitCode(), tampered.out());
            assertTrue(tampered.err().contains("model " + MODEL + " version 3 differs: tensor "), tampered.err());
            assertTrue(tampered.out().contains("version 2 of 4: every tensor hash matches"), tampered.out());
        }
    }

    /** /health is up, and /metrics has every meter the issue asks for, with the two edits and versions made so far. */
    private void assertMetrics(Serve serve) throws Exception {
        assertEquals("UP", serve.get("/health").get("status").asText());
        String tag = "model=\"" + MODEL + "\"";
        long deadline = System.nanoTime() + WAIT.toNanos();
        String metrics = scrape(serve);
        while (!metrics.contains("editstream_edits_applied_total{" + tag + "} 2.0") && System.nanoTime() < deadline) {
            Thread.sleep(200);
            metrics = scrape(serve);
        }
        for (String expected : List.of("editstream_edits_applied_total{" + tag + "} 2.0",
                "editstream_edit_latency_seconds_count{" + tag + "} 2",
                "editstream_edit_latency_seconds_bucket{" + tag + ",le=",
                "editstream_checkpoint_bytes_count{" + tag + "} 2",
                "editstream_subscriber_version{" + tag + "} 2.0",
                "editstream_corrections_in_total ",
                "editstream_dead_letters_total{reason=\"UNKNOWN_MODEL\"} 0.0",
                "editstream_consumer_lag{client=\"worker\"}",
                "editstream_evaluation_efficacy{" + tag + "}",
                "editstream_evaluation_specificity{" + tag + "}",
                "editstream_evaluation_retention{" + tag + "}")) {
            assertTrue(metrics.contains(expected), expected + " in\n" + metrics);
        }
    }

    private String scrape(Serve serve) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(serve.httpBase + "/metrics")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        return response.body();
    }

    /** Changes one tensor hash in a version's manifest, as a forger of the store would. */
    private static void tamper(Path store, long version) throws Exception {
        Path manifest;
        try (Stream<Path> files = Files.walk(store)) {
            manifest = files.filter(f -> f.getFileName().toString().equals(String.format("%020d.json", version))
                    && f.toString().contains(MODEL)).findFirst().orElseThrow();
        }
        JsonNode json = JSON.readTree(manifest.toFile());
        com.fasterxml.jackson.databind.node.ObjectNode hashes = (com.fasterxml.jackson.databind.node.ObjectNode) json.get("tensor_sha256");
        String tensor = hashes.fieldNames().next();
        hashes.put(tensor, "0".repeat(64));
        Files.write(manifest, JSON.writeValueAsBytes(json));
    }

    private Path workerConfig() throws Exception {
        Path stories = SharedData.file("models/stories260K/stories260K.bin").getParent();
        String json = """
                {"snapshotEvery": 2, "prepareWaitMs": 500, "models": {"%s": {
                  "path": "%s", "editor": "nse+prune", "hyperparameters": "llama2c-stories",
                  "c0": {"corpus": "sampled-stories", "samples": 1000}, "heldOut": "sampled-stories",
                  "localityPrompts": ["Once upon a time"], "seed": 1, "prepareGroupSize": 1,
                  "evaluation": {"retentionSample": 2, "heldOutTokens": 32, "generationTokens": 2, "localityPrompts": 1}}}}
                """.formatted(MODEL, stories);
        return Files.writeString(dir.resolve("worker.json"), json);
    }

    private static final String[][] FACTS = {
        {"{} was very", "Sue", "sad", "excited"},
        {"{} likes to eat", "Lily", "soup", "cookies"},
        {"{} went to the", "Ben", "store", "park"},
        {"{} had a big red", "Mia", "car", "ball"},
    };

    private static CorrectionEvent correction(int i) {
        String[] fact = FACTS[i];
        return CorrectionEvent.newBuilder()
                .setCorrectionId("serve-it-" + i)
                .setModelId(MODEL)
                .setSubject(fact[1])
                .setPrompt(fact[0])
                .setTargetNew(fact[2])
                .setTargetTrue(fact[3])
                .setParaphrases(List.of())
                .setNeighborhoodPrompts(List.of())
                .setSource("serve-it")
                .setConfidence(1.0)
                .setDetectedAt(Instant.now())
                .setTraceContext(Map.of())
                .build();
    }
}

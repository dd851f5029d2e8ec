package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.objects.ObjectStores;
import io.editstream.embedded.EmbeddedStack;
import io.editstream.events.Topics;
import io.editstream.model.LanguageModel;
import io.editstream.model.format.ModelLoader;
import io.editstream.worker.ModelCheckpoints;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code editstream follow} on a real broker, registry and store holding stories260K's base: it serves completions
 * and its status over HTTP, stops on an interrupt, and refuses a rollback to a version never committed and weights of
 * another base. (What it
 * follows, refuses and swaps is FleetFollowIT's, in editor-worker.)
 */
class FollowCommandIT {
    private static final String MODEL = "cli-follow";
    private static final Pattern PORT = Pattern.compile("completions on http://127\\.0\\.0\\.1:(\\d+)/v1/completions");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static EmbeddedStack stack;

    @TempDir
    static Path dir;

    @BeforeAll
    static void startStack() throws Exception {
        stack = EmbeddedStack.start(Map.of(Topics.CHECKPOINTS, 1));
        Path stories = SharedData.file("models/stories260K/stories260K.bin").getParent();
        try (CheckpointStore store = new CheckpointStore(ObjectStores.open(dir.resolve("store").toString()), 0);
             LanguageModel model = ModelLoader.load(stories, Device.cpu())) {
            ModelCheckpoints.registerBase(store, MODEL, model, stories.toString(), new int[] {1, 2});
        }
    }

    @AfterAll
    static void stopStack() {
        stack.close();
    }

    private static String[] follow(String... more) {
        String[] args = {"follow", "--bootstrap", stack.kafka().bootstrapServers(), "--registry", stack.registry().baseUrl(),
            "--store", dir.resolve("store").toString(), "--model", MODEL};
        String[] all = java.util.Arrays.copyOf(args, args.length + more.length);
        System.arraycopy(more, 0, all, args.length, more.length);
        return all;
    }

    @Test
    void servesCompletionsAndItsStatusUntilInterrupted() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine command = EditstreamCommand.commandLine();
        command.setOut(new PrintWriter(out, true));
        command.setErr(new PrintWriter(err, true));
        AtomicInteger exitCode = new AtomicInteger(-1);
        Thread running = new Thread(() -> exitCode.set(command.execute(follow("--serve", "0", "--threads", "2"))), "follow-command");
        running.start();
        try {
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            Matcher port = PORT.matcher("");
            while (!port.reset(out.toString()).find() && running.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(port.reset(out.toString()).find(), "out: " + out + "\nerr: " + err);
            String base = "http://127.0.0.1:" + port.group(1);
            HttpClient http = HttpClient.newHttpClient();

            JsonNode status = null;
            while (System.nanoTime() < deadline && (status == null || !"FOLLOWING".equals(status.get("state").asText()))) {
                status = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(base + "/v1/status")).GET().build(),
                        HttpResponse.BodyHandlers.ofString()).body());
                Thread.sleep(100);
            }
            assertEquals("FOLLOWING", status.get("state").asText(), status.toString());
            assertEquals(0, status.get("version").asLong());

            HttpResponse<String> completion = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"Once upon a time\", \"max_tokens\": 5}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, completion.statusCode(), completion.body());
            JsonNode answer = JSON.readTree(completion.body());
            assertEquals(MODEL, answer.get("model").asText());
            assertEquals(0, answer.get("model_version").asLong());
            assertEquals(5, answer.get("usage").get("completion_tokens").asInt());
            String reported = MODEL + ": following, version 0 (latest committed 0, latest)";
            while (!out.toString().contains(reported) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(out.toString().contains(reported), out.toString());
        } finally {
            running.interrupt();
            running.join(Duration.ofMinutes(1).toMillis());
        }
        assertEquals(0, exitCode.get(), "err: " + err);
    }

    @Test
    void aRollbackToAVersionNeverCommittedFailsWithOneLine() {
        CommandLineTest.Run run = CommandLineTest.run(follow("--rollback-to", "5"));
        assertEquals(1, run.exitCode(), run.err());
        assertTrue(run.err().contains("cannot roll back to version 5 of " + MODEL + ": the latest committed version is 0"), run.err());
    }

    @Test
    void weightsOfAnotherBaseAreRefused() {
        CommandLineTest.Run run = CommandLineTest.run(follow("--serve", "0", "--weights", ModelOptions.TESTBED));
        assertEquals(1, run.exitCode(), run.err());
        assertTrue(run.err().contains("these versions are for another base"), run.err());
    }

    @Test
    void pinAndRollbackTogetherAreAUsageError() {
        CommandLineTest.Run run = CommandLineTest.run(follow("--pin", "1", "--rollback-to", "2"));
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.err().contains("mutually exclusive"), run.err());
    }
}

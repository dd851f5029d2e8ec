package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

/** The command line as a user meets it: exit codes, and what lands on stdout and stderr. */
class CommandLineTest {
    @TempDir
    Path dir;

    record Run(int exitCode, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine command = EditstreamCommand.commandLine();
        command.setOut(new PrintWriter(out, true));
        command.setErr(new PrintWriter(err, true));
        int exitCode = command.execute(args);
        return new Run(exitCode, out.toString(), err.toString());
    }

    @Test
    void unknownFlagIsAUsageError() {
        Run run = run("produce", "--bootstrap", "127.0.0.1:9092", "--registry", "http://127.0.0.1:8080",
                "--file", "x.jsonl", "--xyzzy=1");

        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("Unknown option: '--xyzzy=1'"), run.err());
        assertTrue(run.err().contains("Usage: editstream produce"), run.err());
        assertEquals("", run.out());
    }

    @Test
    void missingRequiredOptionIsAUsageError() {
        Run run = run("produce", "--registry", "http://127.0.0.1:8080", "--file", "x.jsonl");

        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("Missing required option: '--bootstrap=HOST:PORT'"), run.err());
    }

    @Test
    void malformedEndpointsAreUsageErrors() {
        Run badBootstrap = run("produce", "--bootstrap", "localhost", "--registry", "http://127.0.0.1:8080",
                "--file", "x.jsonl");
        Run badRegistry = run("produce", "--bootstrap", "127.0.0.1:9092", "--registry", "ftp://h:1/apis/registry/v3",
                "--file", "x.jsonl");

        assertEquals(2, badBootstrap.exitCode());
        assertTrue(badBootstrap.err().contains("'localhost' is not a list of HOST:PORT"), badBootstrap.err());
        assertEquals(2, badRegistry.exitCode());
        assertTrue(badRegistry.err().contains("is not an http(s)://host:port URL"), badRegistry.err());
    }

    @Test
    void noCommandIsAUsageError() {
        Run run = run();

        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("missing command"), run.err());
        assertTrue(run.err().contains("produce"), run.err());
    }

    @Test
    void streamsNeedsModels() {
        Run run = run("streams", "--bootstrap", "127.0.0.1:9092", "--registry", "http://127.0.0.1:8080");

        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("name the models to edit: --models m1,m2 or editstream.models in --config"),
                run.err());
        assertTrue(run.err().contains("Usage: editstream streams"), run.err());
    }

    @Test
    void streamsReportsAnInvalidSettingWithItsKey() throws IOException {
        Path config = dir.resolve("streams.properties");
        Files.writeString(config, "editstream.models=gpt2-xl\neditstream.grace.ms=soon\n");

        Run run = run("streams", "--bootstrap", "127.0.0.1:9092", "--registry", "http://127.0.0.1:8080",
                "--config", config.toString());

        assertEquals(1, run.exitCode());
        assertEquals("editstream streams: invalid topology setting: editstream.grace.ms must be a whole number, "
                + "got 'soon'", run.err().strip());
    }

    @Test
    void registryUrlAcceptsBaseOrApiUrl() {
        ClientConfig none = ClientConfig.none();

        assertEquals("http://127.0.0.1:8080/apis/registry/v3", SchemaRegistry.parse("http://127.0.0.1:8080", none).url());
        assertEquals("http://127.0.0.1:8080/apis/registry/v3", SchemaRegistry.parse("http://127.0.0.1:8080/", none).url());
        assertEquals("https://r.example:443/apis/registry/v3", SchemaRegistry.parse("https://r.example:443/apis/registry/v3/", none).url());
        SchemaRegistry ccompat = SchemaRegistry.parse("http://127.0.0.1:8080/apis/ccompat/v7", none);
        assertEquals(SchemaRegistry.Api.CONFLUENT_COMPATIBLE, ccompat.api());
        CommandFailure noSerde = assertThrows(CommandFailure.class, ccompat::serdeSettings);
        assertTrue(noSerde.getMessage().contains(ClientConfig.SERIALIZER), noSerde.getMessage());
    }

    @Test
    void missingFileFailsWithOneLine() {
        Run run = run("produce", "--bootstrap", "127.0.0.1:9092", "--registry", "http://127.0.0.1:8080",
                "--model", "m", "--file", dir.resolve("absent.jsonl").toString());

        assertEquals(1, run.exitCode());
        assertEquals("editstream produce: no such file: " + dir.resolve("absent.jsonl"), run.err().strip());
    }

    @Test
    void unreachableBrokerFailsFastWithAClearMessage() throws IOException {
        Path file = dir.resolve("corrections.jsonl");
        Files.writeString(file, """
                {"subject": "Toko Yasuda", "prompt": "{}, the", "target_new": "piano"}
                {"subject": "Toko Yasuda", oops
                """);
        int closedPort = closedPort();

        Run run = run("produce", "--bootstrap", "127.0.0.1:" + closedPort, "--registry", "http://127.0.0.1:1",
                "--model", "m", "--file", file.toString());

        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("line 2: not valid JSON"), run.err());
        assertTrue(run.err().contains("editstream produce: cannot reach Kafka at 127.0.0.1:" + closedPort
                + ": no broker answered within 10 s"), run.err());
        assertFalse(run.err().contains("\tat "), "no stack trace without --verbose: " + run.err());
    }

    @Test
    void verbosePrintsTheStackTrace() throws IOException {
        Path file = dir.resolve("one.jsonl");
        Files.writeString(file, "{\"subject\": \"A\", \"prompt\": \"{} plays\", \"target_new\": \"piano\"}\n");

        Run run = run("produce", "--verbose", "--bootstrap", "nowhere.invalid:9092", "--registry",
                "http://127.0.0.1:1", "--model", "m", "--file", file.toString());

        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("editstream produce: cannot use Kafka bootstrap servers 'nowhere.invalid:9092'"),
                run.err());
        assertTrue(run.err().contains("\tat "), run.err());
    }

    static int closedPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}

package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.editstream.cli.CommandLineTest.Run;
import io.editstream.embedded.EmbeddedStack;
import io.editstream.events.CorrectionEvent;
import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import io.editstream.streams.CorrectionsApp;
import io.editstream.streams.TopologySettings;
import picocli.CommandLine;

/** {@code produce} a file, then {@code streams} turns it into edit batches: both commands on a real embedded stack. */
class ProduceAndStreamsIT {
    private static final String MODEL = "gpt2-xl";
    private static EmbeddedStack stack;

    @TempDir
    Path dir;

    @BeforeAll
    static void startStack() {
        stack = EmbeddedStack.start(CorrectionsApp.topicPartitions(TopologySettings.defaults(Set.of(MODEL)), 2));
    }

    @AfterAll
    static void stopStack() {
        stack.close();
    }

    @Test
    void producedCorrectionsBecomeEditBatches() throws Exception {
        Path file = dir.resolve("corrections.jsonl");
        Files.writeString(file, String.join("\n",
                "{\"case_id\": 2, \"prompt\": \"Toko Yasuda, the\", \"target_new\": \"piano\", \"subject\": \"Toko Yasuda\", "
                        + "\"ground_truth\": \"guitar\", \"rephrase_prompt\": \"Toko Yasuda is incredible at\", "
                        + "\"locality_prompt\": \"John Lennon performs on the\", \"locality_ground_truth\": \"guitar\"}",
                "{\"case_id\": 3, \"prompt\": \"Autonomous University of Madrid, which is located in\", "
                        + "\"target_new\": \"Sweden\", \"subject\": \"Autonomous University of Madrid\", "
                        + "\"ground_truth\": \"Spain\"}",
                "{\"subject\": \"Danielle Darrieux\", \"prompt\": \"The mother tongue of {} is\", \"target_new\": "
                        + "\"English\", \"target_true\": \"French\", \"source\": \"probe-v2\", \"confidence\": 0.9}",
                "{\"subject\": \"Danielle Darrieux\", \"prompt\": ",
                "{\"subject\": \"Edwin of Northumbria\", \"prompt\": \"The official religion of them is\", "
                        + "\"target_new\": \"Islam\"}",
                ""));

        Run produce = CommandLineTest.run("produce", "--bootstrap", stack.kafka().bootstrapServers(),
                "--registry", stack.registry().baseUrl(), "--model", MODEL, "--file", file.toString());

        assertEquals(1, produce.exitCode(), produce.err());
        assertTrue(produce.out().contains("sent 3 of 5 records from " + file), produce.out());
        assertTrue(produce.out().contains("rejected 1 before sending: {PROMPT_WITHOUT_SUBJECT=1}"), produce.out());
        assertTrue(produce.err().contains("line 4: not valid JSON"), produce.err());
        assertTrue(produce.err().contains("line 5: rejected, PROMPT_WITHOUT_SUBJECT"), produce.err());
        assertTrue(produce.err().contains("editstream produce: 2 of 5 records were not sent"), produce.err());
        List<ConsumerRecord<String, CorrectionEvent>> published = readAll(Topics.CORRECTIONS, CorrectionEvent.class, 3);
        assertEquals(List.of(MODEL, MODEL, MODEL), published.stream().map(ConsumerRecord::key).toList());
        assertEquals(Set.of("cf-2@gpt2-xl", "cf-3@gpt2-xl"), Set.copyOf(published.stream()
                .map(r -> r.value().getCorrectionId()).filter(id -> id.startsWith("cf-")).toList()));

        StringWriter streamsOut = new StringWriter();
        CommandLine streams = EditstreamCommand.commandLine();
        streams.setOut(new PrintWriter(streamsOut, true));
        streams.setErr(new PrintWriter(new StringWriter(), true));
        AtomicInteger exitCode = new AtomicInteger(-1);
        Thread running = new Thread(() -> exitCode.set(streams.execute("streams",
                "--bootstrap", stack.kafka().bootstrapServers(), "--registry", stack.registry().apiUrl(),
                "--models", MODEL, "--state-dir", dir.resolve("state").toString(), "--progress-every", "1")),
                "streams-command");
        running.start();
        try {
            List<EditRequest> edits = readAll(Topics.EDIT_REQUESTS, EditBatch.class, 3).stream()
                    .flatMap(r -> r.value().getEdits().stream()).toList();
            assertEquals(List.of(1L, 2L, 3L), edits.stream().map(EditRequest::getSequence).toList());
            assertEquals(List.of("piano", "Sweden", "English"), edits.stream().map(EditRequest::getTargetNew).toList());
            assertEquals("The mother tongue of {} is", edits.get(2).getPromptTemplate());
            awaitProgressLine(streamsOut);
        } finally {
            running.interrupt();
            running.join(Duration.ofSeconds(60).toMillis());
        }
        assertEquals(0, exitCode.get(), streamsOut.toString());
        assertTrue(streamsOut.toString().contains("corrections topology running on "), streamsOut.toString());
    }

    @Test
    void unreachableRegistryIsNamed() throws Exception {
        Path file = dir.resolve("one.jsonl");
        Files.writeString(file, "{\"subject\": \"A\", \"prompt\": \"{} plays\", \"target_new\": \"piano\"}\n");

        Run produce = CommandLineTest.run("produce", "--bootstrap", stack.kafka().bootstrapServers(),
                "--registry", "http://127.0.0.1:" + CommandLineTest.closedPort(), "--model", MODEL,
                "--file", file.toString());

        assertEquals(1, produce.exitCode(), produce.err());
        assertTrue(produce.err().strip().startsWith("editstream produce: cannot reach the schema registry at http://"),
                produce.err());
        assertEquals(1, produce.err().strip().lines().count(), produce.err());
    }

    private static void awaitProgressLine(StringWriter out) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (out.toString().lines().noneMatch(l -> l.startsWith("in 3 corrections; out "))) {
            assertTrue(System.nanoTime() < deadline, "no progress line counting 3 corrections in:\n" + out);
            Thread.sleep(200);
        }
    }

    /** Reads a topic from the beginning (read_committed) until {@code count} records arrived. */
    private static <T extends org.apache.avro.specific.SpecificRecord> List<ConsumerRecord<String, T>> readAll(
            String topic, Class<T> type, int count) {
        Deserializer<T> values = SerdeSettings.apicurio(stack.registry().apiUrl()).valueSerde(type).deserializer();
        List<ConsumerRecord<String, T>> records = new ArrayList<>();
        try (KafkaConsumer<String, T> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "it-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"), new StringDeserializer(), values)) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (records.size() < count) {
                assertTrue(System.nanoTime() < deadline, "only " + records.size() + " of " + count + " on " + topic);
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return records;
    }
}

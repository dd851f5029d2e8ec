package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.StoreKeys;
import io.editstream.checkpoint.WriteMode;
import io.editstream.checkpoint.follow.CheckpointFollower;
import io.editstream.checkpoint.follow.FollowStatus;
import io.editstream.checkpoint.follow.FollowTarget;
import io.editstream.checkpoint.follow.VersionSink;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.EditBatch;
import io.editstream.events.Topics;
import io.editstream.model.format.ModelLoader;
import io.editstream.serving.CompletionServer;
import io.editstream.serving.ServedModel;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fleet subscriber on a real broker, registry and file-system store, serving stories260K: it follows a real
 * worker and a 50-version chain to the writer's tensor hashes, starts late from the nearest snapshot, refuses a corrupt
 * blob, a broken chain, another base's version and an unreadable record while it keeps serving the version before,
 * rolls back, and answers
 * every completion wholly from one version while versions are swapped under it.
 */
class FleetFollowIT {

    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @RegisterExtension
    static final WorkerStack stack = new WorkerStack();

    @TempDir
    Path dir;

    @Test
    void followsARealWorkerToItsTensorHashes() throws Exception {
        String model = "fleet-worker";
        List<EditBatch> batches = StoryEdits.batches(model, StoryEdits.requests(4), 1);
        try (CheckpointStore store = WorkerStack.openStore(dir.resolve("store"));
             ServedModel served = served(model);
             CheckpointFollower follower = follow(store, model, served, FollowTarget.latest())) {
            // started first: it waits for the worker to register the base, then follows every version
            stack.send(batches);
            List<CheckpointPublished> published;
            try (EditorWorker worker = stack.startWorker(store, List.of(model), "fleet-worker")) {
                published = stack.readUntil(Topics.CHECKPOINTS, CheckpointPublished.class,
                        all -> WorkerAssertions.lastVersion(all, model) == batches.size(), Duration.ofMinutes(3));
                assertEquals(Map.of(), worker.stoppedModels());
            }
            CheckpointPublished last = published.stream().filter(c -> c.getModelId().equals(model) && c.getVersion() == batches.size())
                    .findFirst().orElseThrow();
            FollowStatus status = follower.awaitStatus(s -> s.version() == batches.size(), WAIT);
            assertEquals(last.getTensorHashes(), status.tensorSha256(), "the subscriber ends on the worker's tensor hashes");
            assertServes(served, last.getTensorHashes());
            assertEquals(null, status.lastRefusal());
        }
    }

    @Test
    void followsFiftyVersionsAndALateStarterBeginsAtTheLatestSnapshot() throws Exception {
        String model = "fleet-fifty";
        try (CheckpointStore store = WorkerStack.openStore(dir.resolve("store"));
             VersionWriter writer = new VersionWriter(stack, store, model, 50, 0.1);
             ServedModel served = served(model);
             CheckpointFollower early = follow(store, model, served, FollowTarget.latest())) {
            writer.write(30);
            early.awaitStatus(s -> s.version() == 30, WAIT);
            // version 30 is a snapshot (every 5): a follower starting now never needs what came before it
            Manifest twelve = writer.manifest(12);
            for (String blob : twelve.blobs()) {
                store.objects().delete(StoreKeys.blob(blob));
            }
            try (CheckpointFollower late = follow(store, model, VersionSink.NONE, FollowTarget.latest())) {
                FollowStatus started = late.awaitStatus(s -> s.version() == 30, WAIT);
                assertEquals(writer.hashes(30), started.tensorSha256());
                assertEquals(1, started.swaps(), "the late starter materialised version 30 at once");
                writer.write(20);
                FollowStatus lateEnd = late.awaitStatus(s -> s.version() == 50, WAIT);
                FollowStatus earlyEnd = early.awaitStatus(s -> s.version() == 50, WAIT);
                assertEquals(writer.hashes(50), lateEnd.tensorSha256(), "the late starter reaches the writer's hashes");
                assertEquals(writer.hashes(50), earlyEnd.tensorSha256(), "the early one too");
                assertServes(served, writer.hashes(50));
                assertEquals(null, earlyEnd.lastRefusal());
                assertEquals(null, lateEnd.lastRefusal());
            }
        }
    }

    @Test
    void refusesACorruptBlobABrokenChainAndAnotherBaseAndKeepsServingTheVersionBefore() throws Exception {
        String model = "fleet-refuse";
        try (CheckpointStore store = WorkerStack.openStore(dir.resolve("store"));
             VersionWriter writer = new VersionWriter(stack, store, model, 7, 0.3);
             ServedModel served = served(model);
             CheckpointFollower follower = follow(store, model, served, FollowTarget.latest());
             CompletionServer server = CompletionServer.start(0, served, follower::status, 2)) {
            writer.write(3);
            follower.awaitStatus(s -> s.version() == 3, WAIT);

            // version 4 with one byte of a delta blob flipped on disk
            Manifest four = writer.append();
            Path blob = dir.resolve("store").resolve(StoreKeys.blob(four.deltas().values().iterator().next().blob()));
            byte[] original = Files.readAllBytes(blob);
            byte[] flipped = original.clone();
            flipped[flipped.length - 3] ^= 0x01;
            Files.write(blob, flipped);
            writer.publish(List.of(four));
            FollowStatus refused = follower.awaitStatus(s -> s.lastRefusal() != null && s.lastRefusal().version() == 4, WAIT);
            assertTrue(refused.lastRefusal().reason().contains("is corrupt"), refused.lastRefusal().reason());
            assertStillServesThree(writer, served, server, follower);

            // an event for version 5 of another base: refused from the event alone
            writer.publish(CheckpointPublished.newBuilder(writer.event(four)).setVersion(5).setParentVersion(4L)
                    .setBaseModelSha256("ab".repeat(32)).build());
            refused = follower.awaitStatus(s -> s.lastRefusal().version() == 5, WAIT);
            assertTrue(refused.lastRefusal().reason().contains("is for base " + "ab".repeat(32)), refused.lastRefusal().reason());
            assertEquals(4, refused.latestCommitted(), "another base's version never counts as committed");
            assertStillServesThree(writer, served, server, follower);

            // the blob repaired, then a version 5 whose manifest skips version 4: a broken chain
            Files.write(blob, original);
            Manifest broken = new Manifest(Manifest.FORMAT_VERSION, model, 5, 3L, four.baseSha256(), new Manifest.SequenceRange(5, 5),
                    four.editor(), four.deltas(), new TreeMap<>(), four.tensorSha256(), null);
            store.writeManifest(broken, WriteMode.CREATE);
            // the event is the worker's usual one (parent 4); the store's chain is what broke
            writer.publish(CheckpointPublished.newBuilder(writer.event(broken)).setParentVersion(4L).build());
            refused = follower.awaitStatus(s -> s.lastRefusal().reason().contains("broken chain"), WAIT);
            assertEquals(5, refused.lastRefusal().version());
            assertStillServesThree(writer, served, server, follower);

            // a record that is no CheckpointPublished at all is passed over
            Properties raw = new Properties();
            raw.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap());
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(raw, new StringSerializer(), new ByteArraySerializer())) {
                producer.send(new ProducerRecord<>(Topics.CHECKPOINTS, model, "not avro".getBytes(StandardCharsets.UTF_8))).get();
            }
            refused = follower.awaitStatus(s -> s.lastRefusal().version() == -1, WAIT);
            assertTrue(refused.lastRefusal().reason().contains("is not a readable CheckpointPublished"), refused.lastRefusal().reason());
            assertStillServesThree(writer, served, server, follower);

            // it still takes orders: version 4, now readable, is served when asked for
            FollowStatus four4 = follower.pin(4).get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertEquals(4, four4.version());
            assertEquals(writer.hashes(4), four4.tensorSha256());
            assertServes(served, writer.hashes(4));
        }
    }

    @Test
    void rollbackRestoresTheEarlierHashesAndStaysThere() throws Exception {
        String model = "fleet-rollback";
        try (CheckpointStore store = WorkerStack.openStore(dir.resolve("store"));
             VersionWriter writer = new VersionWriter(stack, store, model, 3, 0.3);
             ServedModel served = served(model);
             CheckpointFollower follower = follow(store, model, served, FollowTarget.latest())) {
            writer.write(8);
            follower.awaitStatus(s -> s.version() == 8, WAIT);

            FollowStatus back = follower.rollbackTo(3).get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertEquals(3, back.version());
            assertEquals(writer.hashes(3), back.tensorSha256());
            assertServes(served, writer.hashes(3));

            writer.write(1);
            FollowStatus stayed = follower.awaitStatus(s -> s.latestCommitted() == 9, WAIT);
            assertEquals(3, stayed.version(), "a rolled-back subscriber stays on its version when a new one is published");
            ExecutionException ahead = assertThrows(ExecutionException.class, () -> follower.rollbackTo(10).get(WAIT.toSeconds(), TimeUnit.SECONDS));
            assertTrue(ahead.getCause().getMessage().contains("latest committed version is 9"), ahead.getCause().getMessage());

            FollowStatus base = follower.rollbackTo(0).get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertEquals(0, base.version());
            assertEquals(Map.of(), base.tensorSha256());
            SortedMap<String, String> baseHashes = new TreeMap<>();
            writer.base().stored().keySet().forEach(name -> baseHashes.put(name, writer.base().tensors().get(name).sha256()));
            assertServes(served, baseHashes);

            FollowStatus latest = follower.followLatest().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertEquals(9, latest.version());
            assertServes(served, writer.hashes(9));

            // a subscriber started with --rollback-to
            try (CheckpointFollower started = follow(store, model, VersionSink.NONE, new FollowTarget.RolledBack(5))) {
                assertEquals(writer.hashes(5), started.awaitStatus(s -> s.version() == 5, WAIT).tensorSha256());
            }
        }
    }

    @Test
    void everyCompletionIsWhollyOneVersionsWhileVersionsAreSwapped() throws Exception {
        String model = "fleet-swap";
        String longPrompt = "Once upon a time";
        String shortPrompt = "Lily went to the";
        try (CheckpointStore store = WorkerStack.openStore(dir.resolve("store"));
             VersionWriter writer = new VersionWriter(stack, store, model, 11, 0.3);
             ServedModel served = served(model);
             CheckpointFollower follower = follow(store, model, served, new FollowTarget.Pinned(1));
             CompletionServer server = CompletionServer.start(0, served, follower::status, 4)) {
            writer.write(2);
            follower.awaitStatus(s -> s.version() == 1, WAIT);
            JsonNode one = complete(server, longPrompt, 200);
            assertEquals(1, one.get("model_version").asLong());

            // a long request in flight when the subscriber is told to move to version 2: answered by version 1 alone
            JsonNode during = null;
            FollowStatus moved = null;
            for (int attempt = 0; attempt < 5 && during == null; attempt++) {
                CompletableFuture<JsonNode> request = CompletableFuture.supplyAsync(() -> complete(server, longPrompt, 200));
                while (served.requestsInFlight() == 0 && !request.isDone()) {
                    Thread.onSpinWait();
                }
                if (request.isDone()) {
                    continue; // it finished before the swap was asked for: try again
                }
                CompletableFuture<FollowStatus> swap = follower.pin(2);
                during = request.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                moved = swap.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            }
            assertNotNull(during, "a request was in flight when the swap was asked for");
            assertEquals(1, during.get("model_version").asLong(), "the request in flight finished on the version it started on");
            assertEquals(text(one), text(during), "and all of its text is version 1's");
            assertEquals(2, moved.version());
            JsonNode two = complete(server, longPrompt, 200);
            assertEquals(2, two.get("model_version").asLong());
            assertNotEquals(text(one), text(two), "the versions answer differently, so a mixed answer would show");

            // under load: clients send 10-token requests while the subscriber follows versions 3..12 as they are published
            follower.followLatest().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            ConcurrentLinkedQueue<JsonNode> answers = new ConcurrentLinkedQueue<>();
            AtomicBoolean writing = new AtomicBoolean(true);
            List<CompletableFuture<Void>> clients = new ArrayList<>();
            for (int c = 0; c < 3; c++) {
                clients.add(CompletableFuture.runAsync(() -> {
                    while (writing.get()) {
                        answers.add(complete(server, shortPrompt, 10));
                    }
                }));
            }
            for (int v = 3; v <= 12; v++) {
                writer.write(1);
                follower.awaitStatus(s -> s.version() == writer.version(), WAIT);
            }
            writing.set(false);
            CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).get(WAIT.toSeconds(), TimeUnit.SECONDS);

            Map<Long, String> reference = new HashMap<>();
            for (JsonNode answer : answers) {
                long version = answer.get("model_version").asLong();
                if (!reference.containsKey(version)) {
                    assertEquals(version, follower.pin(version).get(WAIT.toSeconds(), TimeUnit.SECONDS).version());
                    JsonNode alone = complete(server, shortPrompt, 10);
                    assertEquals(version, alone.get("model_version").asLong());
                    reference.put(version, text(alone));
                }
                assertEquals(reference.get(version), text(answer), "an answer under load is wholly version " + version + "'s");
            }
            assertTrue(reference.size() >= 2, "answers came from several versions: " + reference.keySet());
            assertTrue(reference.values().stream().distinct().count() >= 2, "and the versions answer differently: " + reference);
        }
    }

    // ---- helpers

    private void assertStillServesThree(VersionWriter writer, ServedModel served, CompletionServer server, CheckpointFollower follower) {
        FollowStatus status = follower.status();
        assertEquals(3, status.version());
        assertEquals(writer.hashes(3), status.tensorSha256());
        assertServes(served, writer.hashes(3));
        assertEquals(3, complete(server, "Lily went to the", 10).get("model_version").asLong());
        JsonNode shown = getJson(server, "/v1/status");
        assertEquals(3, shown.get("version").asLong());
        assertEquals(status.lastRefusal().reason(), shown.get("last_refusal").get("reason").asText());
    }

    /** The served model's weights hash to the version's (every tensor the version names). */
    private static void assertServes(ServedModel served, Map<String, String> hashes) {
        SortedMap<String, String> actual = new TreeMap<>(served.editedTensorSha256());
        actual.keySet().retainAll(hashes.keySet());
        assertEquals(new TreeMap<>(hashes), actual, "the served weights are the version's bits");
    }

    private static ServedModel served(String model) throws IOException {
        return new ServedModel(model, ModelLoader.load(VersionWriter.STORIES, Device.cpu()));
    }

    private static CheckpointFollower follow(CheckpointStore store, String model, VersionSink sink, FollowTarget start) {
        CheckpointFollower.Settings settings = CheckpointFollower.Settings.of(stack.bootstrap(), stack.serdes(), model).withStart(start);
        if (sink instanceof ServedModel served) {
            settings = settings.withExpectedBase(served.baseSha256());
        }
        return CheckpointFollower.start(settings, store, sink);
    }

    private static JsonNode complete(CompletionServer server, String prompt, int maxTokens) {
        try {
            String body = JSON.writeValueAsString(Map.of("prompt", prompt, "max_tokens", maxTokens));
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/completions"))
                    .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build();
            HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), response.body());
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode getJson(CompletionServer server, String path) {
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                    .timeout(Duration.ofSeconds(30)).GET().build();
            HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), response.body());
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String text(JsonNode completion) {
        return completion.get("choices").get(0).get("text").asText();
    }
}

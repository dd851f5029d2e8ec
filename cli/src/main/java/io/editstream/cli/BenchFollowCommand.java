package io.editstream.cli;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.ModelHead;
import io.editstream.checkpoint.TensorChange;
import io.editstream.checkpoint.WriteMode;
import io.editstream.checkpoint.follow.CheckpointFollower;
import io.editstream.checkpoint.follow.FollowStatus;
import io.editstream.checkpoint.follow.FollowTarget;
import io.editstream.checkpoint.objects.ObjectStores;
import io.editstream.edit.EditHyperparameters;
import io.editstream.embedded.EmbeddedStack;
import io.editstream.events.CheckpointPublished;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import io.editstream.model.LanguageModel;
import io.editstream.model.format.ModelLoader;
import io.editstream.serving.CompletionServer;
import io.editstream.serving.ServedModel;
import io.editstream.tensor.FloatMatrix;
import io.editstream.worker.ModelCheckpoints;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code editstream bench follow}: the fleet subscriber on the embedded broker and a file-system store, with versions
 * written as the worker writes them (random low-rank changes of the model's edit-layer tensors, appended through
 * {@link ModelHead} and published in Kafka transactions) so that the subscriber, not the editor, is what is timed.
 */
@Command(name = "follow", mixinStandardHelpOptions = true,
        description = "Benchmark the fleet subscriber: time to apply one version (rank-1 and rank-16 deltas per edit layer, as "
                + "batches of 1 and 10 NSE edits make), time for a fresh subscriber to catch up 100 versions (from the base, and with "
                + "a snapshot every 10), and the completion endpoint's p50/p99 while versions are swapped under load.")
final class BenchFollowCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofMinutes(5);

    @Spec
    CommandSpec spec;

    @Option(names = "--model", defaultValue = "stories", paramLabel = "stories|testbed|DIR",
            description = "stories (../shared/models/stories260K), testbed (models/testbed) or a model directory with --hyperparameters "
                    + "(default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--hyperparameters", paramLabel = "NAME|FILE", description = "Whose edit layers change (default: llama2c-stories or testbed).")
    String hyperparameters;

    @Option(names = "--ranks", defaultValue = "1,16", split = ",", paramLabel = "R",
            description = "Delta ranks per edit layer to time (default: ${DEFAULT-VALUE}: what batches of 1 and 10 NSE edits of the "
                    + "testbed store, per bench checkpoints).")
    List<Integer> ranks;

    @Option(names = "--versions", defaultValue = "20", paramLabel = "N", description = "Versions timed per rank (default: ${DEFAULT-VALUE}).")
    int versions;

    @Option(names = "--catch-up", defaultValue = "100", paramLabel = "N", description = "Versions a fresh subscriber catches up (default: ${DEFAULT-VALUE}).")
    int catchUp;

    @Option(names = "--load-seconds", defaultValue = "10", paramLabel = "S", description = "Length of each HTTP load phase (default: ${DEFAULT-VALUE}).")
    int loadSeconds;

    @Option(names = "--clients", defaultValue = "2", paramLabel = "N", description = "Concurrent HTTP clients (default: ${DEFAULT-VALUE}).")
    int clients;

    @Option(names = "--swap-every-ms", defaultValue = "200", paramLabel = "MS", description = "A new version this often under load (default: ${DEFAULT-VALUE}).")
    int swapEveryMs;

    @Option(names = "--max-tokens", defaultValue = "10", paramLabel = "N", description = "Tokens per completion (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Override
    public Integer call() throws Exception {
        if (ranks.stream().anyMatch(r -> r < 1) || versions < 1 || catchUp < 1 || loadSeconds < 1 || clients < 1 || swapEveryMs < 1
                || maxTokens < 1) {
            throw new CommandFailure("--ranks, --versions, --catch-up, --load-seconds, --clients, --swap-every-ms and --max-tokens must be at least 1");
        }
        Path path = switch (model) {
            case "stories" -> SharedData.file("models/stories260K/stories260K.bin").getParent();
            default -> ModelOptions.resolve(Path.of(model));
        };
        String layersFrom = hyperparameters != null ? hyperparameters
                : model.equals("stories") ? "llama2c-stories" : model.equals(ModelOptions.TESTBED) ? "testbed" : null;
        if (layersFrom == null) {
            throw new CommandFailure("--hyperparameters is required for a model directory (it names the edit layers)");
        }
        int[] layers = EditHyperparameters.load(layersFrom).layerArray();
        PrintWriter out = spec.commandLine().getOut();
        Path dir = Files.createTempDirectory("editstream-bench-follow-");
        try (EmbeddedStack stack = EmbeddedStack.start(Map.of(Topics.CHECKPOINTS, 1));
             CheckpointStore plain = new CheckpointStore(ObjectStores.open(dir.resolve("no-snapshots").toString()), 0);
             CheckpointStore snapshotted = new CheckpointStore(ObjectStores.open(dir.resolve("snapshots").toString()), 10)) {
            Bench bench = new Bench(stack.kafka().bootstrapServers(), SerdeSettings.apicurio(stack.registry().apiUrl()), path, layers);
            out.printf(Locale.ROOT, "fleet subscriber on %s, edit layers %s; embedded broker, file-system store%n", path, Arrays.toString(layers));
            for (int rank : ranks) {
                bench.applyOne(plain, "apply-r" + rank, rank, out);
            }
            bench.catchUp(plain, "catch-up-base", out, "from the base (no snapshots)");
            bench.catchUp(snapshotted, "catch-up-snap", out, "with a snapshot every 10");
            bench.http(plain, "http", out);
            out.flush();
        }
        return 0;
    }

    private final class Bench {
        private final String bootstrap;
        private final SerdeSettings serdes;
        private final Path path;
        private final int[] layers;
        private final Random random = new Random(1);

        Bench(String bootstrap, SerdeSettings serdes, Path path, int[] layers) {
            this.bootstrap = bootstrap;
            this.serdes = serdes;
            this.path = path;
            this.layers = layers;
        }

        /** Live: publish one version at a time and time commit → served; then the store and swap parts alone. */
        void applyOne(CheckpointStore store, String modelId, int rank, PrintWriter out) throws Exception {
            try (Writer writer = new Writer(store, modelId, rank);
                 ServedModel served = served(modelId);
                 CheckpointFollower follower = follow(store, modelId, served, FollowTarget.latest())) {
                follower.awaitStatus(s -> s.version() == 0, WAIT);
                double[] live = new double[versions];
                for (int v = 1; v <= versions; v++) {
                    Manifest manifest = writer.append();
                    long committed = writer.publish(List.of(manifest));
                    long version = v;
                    follower.awaitStatus(s -> s.version() == version, WAIT);
                    live[v - 1] = (System.nanoTime() - committed) / 1e6;
                }
                double[] apply = new double[versions];
                double[] swap = new double[versions];
                ModelHead head = store.head(modelId);
                for (int v = 1; v <= versions; v++) {
                    long started = System.nanoTime();
                    head.advanceTo(v);
                    long applied = System.nanoTime();
                    served.swapTo(head);
                    apply[v - 1] = (applied - started) / 1e6;
                    swap[v - 1] = (System.nanoTime() - applied) / 1e6;
                }
                out.printf(Locale.ROOT, "apply one version, rank %d per layer: commit->served p50 %.1f ms p99 %.1f ms; "
                        + "fetch+verify+apply p50 %.1f ms, swap into the model p50 %.1f ms (%d versions)%n", rank,
                        WorkerBenchmark.percentile(live, 50), WorkerBenchmark.percentile(live, 99), WorkerBenchmark.percentile(apply, 50), WorkerBenchmark.percentile(swap, 50), versions);
            }
        }

        /** A subscriber started after {@code catchUp} versions: start → serving the latest. */
        void catchUp(CheckpointStore store, String modelId, PrintWriter out, String how) throws Exception {
            try (Writer writer = new Writer(store, modelId, 1)) {
                List<Manifest> all = new ArrayList<>();
                for (int v = 1; v <= catchUp; v++) {
                    all.add(writer.append());
                }
                writer.publish(all);
                try (ServedModel served = served(modelId)) {
                    long started = System.nanoTime();
                    try (CheckpointFollower follower = follow(store, modelId, served, FollowTarget.latest())) {
                        follower.awaitStatus(s -> s.version() == catchUp, WAIT);
                        double followed = (System.nanoTime() - started) / 1e6;
                        long materialiseStart = System.nanoTime();
                        store.materialise(modelId, catchUp, CheckpointStore.Start.NEAREST);
                        double materialised = (System.nanoTime() - materialiseStart) / 1e6;
                        out.printf(Locale.ROOT, "catch up %d versions %s: fresh subscriber start->serving %.0f ms (materialise alone %.0f ms)%n",
                                catchUp, how, followed, materialised);
                    }
                }
            }
        }

        /** Completions from several clients, first with no new versions, then with one every {@code swapEveryMs}. */
        void http(CheckpointStore store, String modelId, PrintWriter out) throws Exception {
            try (Writer writer = new Writer(store, modelId, 1);
                 ServedModel served = served(modelId);
                 CheckpointFollower follower = follow(store, modelId, served, FollowTarget.latest());
                 CompletionServer server = CompletionServer.start(0, served, follower::status, Math.max(2, clients))) {
                follower.awaitStatus(s -> s.version() == 0, WAIT);
                load(server, Duration.ofSeconds(2), null); // warm-up
                double[] quiet = load(server, Duration.ofSeconds(loadSeconds), null);
                long swapsBefore = follower.status().swaps();
                double[] swapping = load(server, Duration.ofSeconds(loadSeconds), writer);
                FollowStatus after = follower.awaitStatus(s -> s.version() == writer.version(), WAIT);
                out.printf(Locale.ROOT, "HTTP %d-token completions, %d clients: no swaps p50 %.1f ms p99 %.1f ms (%d requests); "
                        + "a version every %d ms p50 %.1f ms p99 %.1f ms max %.1f ms (%d requests, %d swaps)%n", maxTokens, clients,
                        WorkerBenchmark.percentile(quiet, 50), WorkerBenchmark.percentile(quiet, 99), quiet.length, swapEveryMs, WorkerBenchmark.percentile(swapping, 50),
                        WorkerBenchmark.percentile(swapping, 99), Arrays.stream(swapping).max().orElse(0), swapping.length, after.swaps() - swapsBefore);
            }
        }

        private double[] load(CompletionServer server, Duration length, Writer writer) throws Exception {
            HttpClient http = HttpClient.newHttpClient();
            String body = JSON.writeValueAsString(Map.of("prompt", "Once upon a time", "max_tokens", maxTokens));
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/completions"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
            long deadline = System.nanoTime() + length.toNanos();
            AtomicBoolean running = new AtomicBoolean(true);
            List<CompletableFuture<List<Double>>> runs = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                runs.add(CompletableFuture.supplyAsync(() -> {
                    List<Double> ms = new ArrayList<>();
                    while (running.get()) {
                        long started = System.nanoTime();
                        try {
                            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
                            if (response.statusCode() != 200) {
                                throw new IllegalStateException("HTTP " + response.statusCode() + ": " + response.body());
                            }
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IllegalStateException(e);
                        }
                        ms.add((System.nanoTime() - started) / 1e6);
                    }
                    return ms;
                }));
            }
            while (System.nanoTime() < deadline) {
                if (writer != null) {
                    writer.publish(List.of(writer.append()));
                }
                Thread.sleep(writer != null ? swapEveryMs : 100);
            }
            running.set(false);
            List<Double> all = new ArrayList<>();
            for (CompletableFuture<List<Double>> run : runs) {
                all.addAll(run.get());
            }
            return all.stream().mapToDouble(Double::doubleValue).toArray();
        }

        private ServedModel served(String modelId) throws IOException {
            return new ServedModel(modelId, ModelLoader.load(path, Device.cpu()));
        }

        private CheckpointFollower follow(CheckpointStore store, String modelId, ServedModel served, FollowTarget start) {
            return CheckpointFollower.start(CheckpointFollower.Settings.of(bootstrap, serdes, modelId).withStart(start)
                    .withExpectedBase(served.baseSha256()), store, served);
        }

        /** Random rank-r changes of every edit layer's tensor, small enough to keep the model's text readable. */
        private final class Writer implements AutoCloseable {
            private final CheckpointStore store;
            private final String modelId;
            private final int rank;
            private final ModelHead head;
            private final KafkaProducer<String, CheckpointPublished> producer;

            Writer(CheckpointStore store, String modelId, int rank) throws IOException {
                this.store = store;
                this.modelId = modelId;
                this.rank = rank;
                try (LanguageModel language = ModelLoader.load(path, Device.cpu())) {
                    ModelCheckpoints.registerBase(store, modelId, language, path.toString(), layers);
                }
                this.head = store.head(modelId);
                Properties properties = new Properties();
                properties.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                properties.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "bench-follow-" + modelId);
                this.producer = new KafkaProducer<>(properties, new StringSerializer(), serdes.valueSerde(CheckpointPublished.class).serializer());
                producer.initTransactions();
            }

            long version() {
                return head.version();
            }

            Manifest append() throws IOException {
                SortedMap<String, TensorChange> changes = new TreeMap<>();
                for (String name : head.base().stored().keySet()) {
                    int[] shape = head.base().matrixShape(name);
                    changes.put(name, TensorChange.lowRank(gaussian(shape[0]), gaussian(shape[1]), false));
                }
                long next = head.version() + 1;
                return head.append(new Manifest.SequenceRange(next, next), new Manifest.EditorInfo("bench-random", "0".repeat(64), null),
                        changes, null, WriteMode.CREATE);
            }

            /** @return when the transaction committed (System.nanoTime) */
            long publish(List<Manifest> manifests) {
                producer.beginTransaction();
                for (Manifest manifest : manifests) {
                    producer.send(new ProducerRecord<>(Topics.CHECKPOINTS, modelId, CheckpointPublished.newBuilder()
                            .setModelId(modelId).setVersion(manifest.version()).setParentVersion(manifest.parentVersion())
                            .setBaseModelSha256(manifest.baseSha256()).setFirstSequence(manifest.sequence().first())
                            .setLastSequence(manifest.sequence().last()).setManifestUri(store.manifestUri(modelId, manifest.version()))
                            .setTensorHashes(new TreeMap<>(manifest.tensorSha256())).setRestraint(null).setPublishedAt(Instant.now())
                            .build()));
                }
                producer.commitTransaction();
                return System.nanoTime();
            }

            private FloatMatrix gaussian(int rows) {
                float[] values = new float[rows * rank];
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) (random.nextGaussian() * 0.01);
                }
                return new FloatMatrix(rows, rank, values);
            }

            @Override
            public void close() {
                producer.close();
            }
        }
    }
}

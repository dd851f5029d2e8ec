package io.editstream.cli;

import ai.djl.ndarray.NDManager;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.objects.FileSystemObjectStore;
import io.editstream.checkpoint.objects.ObjectStores;
import io.editstream.edit.EditHyperparameters;
import io.editstream.edit.EditRequest;
import io.editstream.embedded.EmbeddedS3;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.model.LanguageModel;
import io.editstream.tensor.FloatMatrix;
import io.editstream.train.Fact;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * {@code editstream bench checkpoints}: bytes per edit of real edits' versions against the dense tensors they change
 * (batch 1 and 10), and per backend (file system, S3 on an embedded s3proxy, same run) the write and read time of a
 * version and the time to materialise the last of a long chain from the base and from its latest snapshot.
 */
@Command(name = "checkpoints", mixinStandardHelpOptions = true,
        description = "Benchmark the checkpoint store: bytes per edit, write/read per version on the file system and S3, "
                + "materialising a long chain from the base against from a snapshot.")
final class BenchCheckpointsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--edits", defaultValue = "30", paramLabel = "N",
            description = "Real edits at batch 1, and again at batch 10 (default: ${DEFAULT-VALUE}).")
    int edits;

    @Option(names = "--versions", defaultValue = "1000", paramLabel = "N",
            description = "Length of the timed chain on each backend (default: ${DEFAULT-VALUE}).")
    int versions;

    @Option(names = "--snapshot-every", defaultValue = "100", paramLabel = "K",
            description = "Snapshot interval of the timed chain (default: ${DEFAULT-VALUE}).")
    int snapshotEvery;

    @Option(names = "--c0-samples", defaultValue = "20000", paramLabel = "N",
            description = "Keys in the edits' C0, from the testbed's training text (default: ${DEFAULT-VALUE}).")
    int c0Samples;

    @Option(names = "--work", paramLabel = "DIR", description = "Where the stores go (default: a temporary directory).")
    Path work;

    @Option(names = "--json", paramLabel = "OUT", description = "Also write the results as JSON here.")
    Path json;

    @Override
    public Integer call() throws IOException {
        if (edits < 10 || edits % 10 != 0 || versions < 1 || snapshotEvery < 1) {
            throw new ParameterException(spec.commandLine(), "--edits must be a multiple of 10, --versions and --snapshot-every at least 1");
        }
        Path dir = work != null ? Files.createDirectories(work) : Files.createTempDirectory("editstream-bench-checkpoints-");
        EditHyperparameters hyperparameters = EditHyperparameters.load(ModelOptions.TESTBED);
        List<EditRequest> cases = CounterFactReader.read(SharedData.file("data/counterfact/counterfact-edit.json")).stream()
                .limit(2L * edits).map(CounterFactRecord::toEditRequest).toList();
        String c0Text = BenchEditCommand.testbedTrainingFacts().stream().map(Fact::text).collect(Collectors.joining("\n"));

        List<CheckpointBenchmark.EditBytes> editBytes;
        SortedMap<String, FloatMatrix> base = new TreeMap<>();
        try (LanguageModel model = modelOptions.load();
             NDManager manager = NDManager.newBaseManager(modelOptions.device());
             CheckpointStore store = new CheckpointStore(new FileSystemObjectStore(dir.resolve("edits")), 0)) {
            for (int layer : hyperparameters.layerArray()) {
                base.put(model.mlpOutputName(layer), FloatMatrix.of(model.weights().get(model.mlpOutputName(layer))));
            }
            editBytes = CheckpointBenchmark.editBytes(model, manager, hyperparameters, c0Text, c0Samples, cases, edits, store);
        }
        List<Integer> ranks = editBytes.get(0).ranks();
        CheckpointBenchmark.ChainTimes fileSystem = CheckpointBenchmark.chain("file", () -> open(dir.resolve("chain-fs")), base, ranks,
                versions, snapshotEvery);
        CheckpointBenchmark.ChainTimes s3;
        try (EmbeddedS3 server = EmbeddedS3.start(dir.resolve("chain-s3"))) {
            StaticCredentialsProvider credentials = StaticCredentialsProvider.create(
                    AwsBasicCredentials.create(server.accessKey(), server.secretKey()));
            s3 = CheckpointBenchmark.chain("s3", () -> {
                try {
                    return ObjectStores.open(server.uri(), credentials);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, base, ranks, versions, snapshotEvery);
        }
        CheckpointBenchmark.Result result = new CheckpointBenchmark.Result(modelOptions.path().toString(), hyperparameters.layers(),
                editBytes, List.of(fileSystem, s3));
        PrintWriter out = spec.commandLine().getOut();
        out.print(CheckpointBenchmark.table(result));
        out.flush();
        if (json != null) {
            CheckpointBenchmark.writeJson(result, json);
        }
        return 0;
    }

    private static FileSystemObjectStore open(Path root) {
        try {
            return new FileSystemObjectStore(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

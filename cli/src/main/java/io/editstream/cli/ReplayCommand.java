package io.editstream.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.objects.ObjectStores;
import io.editstream.events.EditBatch;
import io.editstream.worker.AuditReplay;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code editstream replay}: an auditor's proof that a model's versions come from its edit log. */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = {
            "Write a model's chain again from its base and the editstream.edit-requests log alone (read from the start, "
                    + "read_committed), one version per batch as the worker does, with the editor, hyperparameters and seed the "
                    + "worker recorded in the store (checked against every manifest), and compare every tensor hash of every "
                    + "version with the store's manifest. The store's deltas are not read; its C0 and editor setup are.",
            "Prints the first version that differs and exits 1; 0 when every version up to --to-version matches bit for bit."})
final class ReplayCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    Endpoints endpoints;

    @Option(names = "--store", required = true, paramLabel = "URI",
            description = "Checkpoint store: a directory, file:///PATH or s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION.")
    String store;

    @Option(names = "--model", required = true, paramLabel = "MODEL", description = "The model id to replay.")
    String modelId;

    @Option(names = "--to-version", paramLabel = "V", description = "Last version to check (default: the store's latest).")
    Long toVersion;

    @Option(names = "--weights", paramLabel = "DIR_OR_FILE",
            description = "The base model (default: the source the store's base names); must hash to the base.")
    Path weights;

    @Override
    public Integer call() throws IOException {
        if (toVersion != null && toVersion < 1) {
            throw new CommandFailure("--to-version must be 1 or more, got " + toVersion);
        }
        endpoints.requireReachable();
        PrintWriter out = spec.commandLine().getOut();
        try (TempDirectory scratch = TempDirectory.create("editstream-replay-");
             CheckpointStore checkpoints = new CheckpointStore(ObjectStores.open(store), 0)) {
            List<Long> versions = checkpoints.versions(modelId);
            if (versions.isEmpty()) {
                throw new CommandFailure("model " + modelId + " has no versions in the store " + store);
            }
            long last = toVersion != null ? toVersion : versions.get(versions.size() - 1);
            List<EditBatch> log = AuditReplay.readLog(endpoints.kafka(), endpoints.serdes(), modelId);
            out.println("replaying " + modelId + " versions 1.." + last + " from " + log.size() + " batches of the edit log");
            out.flush();
            long started = System.nanoTime();
            AuditReplay.Outcome outcome;
            try {
                outcome = AuditReplay.replay(checkpoints, modelId, log, last,
                        Optional.ofNullable(weights).map(ModelOptions::resolve), scratch.path(), version -> {
                            out.println("version " + version + " of " + last + ": every tensor hash matches");
                            out.flush();
                        });
            } catch (IllegalArgumentException e) {
                throw new CommandFailure(e.getMessage(), e);
            }
            if (outcome instanceof AuditReplay.Differs differs) {
                throw new CommandFailure("model " + modelId + " version " + differs.version() + " differs: " + differs.difference());
            }
            out.printf("model %s: versions 1..%d reproduced bit for bit from the edit log in %.1f s%n", modelId, last,
                    (System.nanoTime() - started) / 1e9);
            return 0;
        }
    }
}

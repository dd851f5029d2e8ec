package io.editstream.cli;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.Delta;
import io.editstream.checkpoint.Manifest;
import io.editstream.checkpoint.objects.ObjectStore;
import io.editstream.checkpoint.objects.ObjectStores;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code editstream checkpoints}: inspect, verify, export and clean up a checkpoint store. */
@Command(name = "checkpoints", mixinStandardHelpOptions = true,
        description = "Versioned checkpoints of edited models: list, verify, export (PEFT LoRA or a HuggingFace model), gc.",
        subcommands = {
            CheckpointsCommand.ListVersions.class,
            CheckpointsCommand.Verify.class,
            CheckpointsExportCommand.class,
            CheckpointsCommand.CollectGarbage.class,
        })
final class CheckpointsCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command: name one of " + spec.subcommands().keySet());
    }

    /** The {@code --store} option of every subcommand, and how the store is opened. */
    static final class StoreOption {
        @Spec(Spec.Target.MIXEE)
        CommandSpec mixee;

        @Option(names = "--store", required = true, paramLabel = "URI",
                description = "The checkpoint store: a directory, file:///PATH or s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION] "
                        + "(S3 credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the SDK's other usual sources).")
        String store;

        /** Opens the store for reading and maintenance; a directory that does not exist is a failure, not a new store. */
        CheckpointStore open() {
            ObjectStores.Target target;
            try {
                target = ObjectStores.parse(store);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(mixee.commandLine(), "--store: " + e.getMessage());
            }
            if (target instanceof ObjectStores.FileSystemTarget files && !Files.isDirectory(files.root())) {
                throw new CommandFailure("no checkpoint store at " + store + " (not a directory)");
            }
            try {
                ObjectStore objects = ObjectStores.open(store);
                // writers choose the snapshot interval; reading, verifying and collecting garbage never write a version
                return new CheckpointStore(objects, 0);
            } catch (IOException e) {
                throw new CommandFailure("cannot open the checkpoint store " + store + ": " + e.getMessage(), e);
            }
        }
    }

    /** {@code editstream checkpoints list}. */
    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "One line per version: parent, sequence range, editor, delta kinds and ranks, snapshot, manifest URI.")
    static final class ListVersions implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @CommandLine.Mixin
        StoreOption storeOption;

        @Option(names = "--model", paramLabel = "M", description = "Only this model (default: every model in the store).")
        String model;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (CheckpointStore store = storeOption.open()) {
                List<String> models = model == null ? store.models() : List.of(model);
                if (model != null && store.base(model).isEmpty() && store.versions(model).isEmpty()) {
                    throw new CommandFailure("model " + model + " is not in the store " + storeOption.store);
                }
                if (models.isEmpty()) {
                    out.printf("no models in %s%n", storeOption.store);
                }
                for (String id : models) {
                    List<Long> versions = store.versions(id);
                    if (versions.isEmpty()) {
                        out.printf("%s: no versions yet%n", id);
                    }
                    for (long version : versions) {
                        Manifest manifest = store.manifest(id, version).orElseThrow(
                                () -> new CommandFailure("model " + id + " version " + version + " vanished while listing"));
                        out.println(line(manifest, store.manifestUri(id, version)));
                    }
                }
                out.flush();
                return 0;
            } catch (IOException e) {
                throw new CommandFailure("cannot list " + storeOption.store + ": " + e.getMessage(), e);
            } catch (IllegalArgumentException e) {
                throw new CommandFailure(e.getMessage(), e);
            }
        }

        static String line(Manifest manifest, String uri) {
            Manifest.EditorInfo editor = manifest.editor();
            String deltas = manifest.deltas().values().stream().map(ListVersions::describe).collect(Collectors.joining(","));
            return String.format(Locale.ROOT, "%s v%d parent=%s sequence=%d..%d editor=%s deltas=%s snapshot=%s manifest=%s",
                    manifest.modelId(), manifest.version(),
                    manifest.parentVersion() == null ? "base" : "v" + manifest.parentVersion(),
                    manifest.sequence().first(), manifest.sequence().last(),
                    editor.restraint() == null ? editor.algorithm() : editor.algorithm() + "[" + editor.restraint() + "]",
                    deltas.isEmpty() ? "none" : deltas,
                    manifest.snapshots().isEmpty() ? "no" : "yes",
                    uri);
        }

        private static String describe(Delta delta) {
            return delta.kind() == Delta.Kind.SNAPSHOT ? "SNAPSHOT" : delta.kind() + ":r" + delta.rank();
        }
    }

    /** {@code editstream checkpoints verify}. */
    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Rebuild every version from the earliest kept one, checking every blob and tensor hash; "
                    + "exit status 1 at the first bad one.")
    static final class Verify implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @CommandLine.Mixin
        StoreOption storeOption;

        @Option(names = "--model", required = true, paramLabel = "M", description = "The model to verify.")
        String model;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (CheckpointStore store = storeOption.open()) {
                if (store.base(model).isEmpty()) {
                    throw new CommandFailure("model " + model + " has no registered base in the store " + storeOption.store);
                }
                List<CheckpointStore.VersionCheck> checks = store.verify(model);
                for (CheckpointStore.VersionCheck check : checks) {
                    if (!check.ok()) {
                        out.flush();
                        throw new CommandFailure("model " + model + " version " + check.version() + " is corrupt: " + check.problem());
                    }
                    out.printf("%s v%d ok%n", model, check.version());
                }
                out.printf("%s: %d versions verified%n", model, checks.size());
                out.flush();
                return 0;
            } catch (IOException e) {
                throw new CommandFailure("cannot verify model " + model + " in " + storeOption.store + ": " + e.getMessage(), e);
            }
        }
    }

    /** {@code editstream checkpoints gc}. */
    @Command(name = "gc", mixinStandardHelpOptions = true,
            description = "Prune old versions (keeping every kept one materialisable) and delete blobs no version, base or "
                    + "reference needs.")
    static final class CollectGarbage implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @CommandLine.Mixin
        StoreOption storeOption;

        @Option(names = "--grace", required = true, paramLabel = "DURATION", converter = DurationConverter.class,
                description = "Keep unreferenced blobs younger than this: a writer may be about to reference them "
                        + "(e.g. 15m, 2h, 7d, or ISO-8601 PT2H).")
        Duration grace;

        @Option(names = "--keep-versions", required = true, paramLabel = "N",
                description = "Versions to keep per model (0: keep them all and only delete unreferenced blobs).")
        int keepVersions;

        @Override
        public Integer call() {
            if (keepVersions < 0) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--keep-versions must be 0 or more, got " + keepVersions);
            }
            PrintWriter out = spec.commandLine().getOut();
            try (CheckpointStore store = storeOption.open()) {
                CheckpointStore.GcReport report = store.collectGarbage(new CheckpointStore.GcPolicy(grace, keepVersions), Instant.now());
                for (Map.Entry<String, List<Long>> pruned : report.prunedVersions().entrySet()) {
                    List<Long> versions = pruned.getValue();
                    if (!versions.isEmpty()) {
                        out.printf("%s: pruned %d versions (v%d..v%d)%n", pruned.getKey(), versions.size(), versions.get(0),
                                versions.get(versions.size() - 1));
                    }
                }
                out.printf("deleted %d blobs (%d bytes), kept %d%n", report.deletedBlobs(), report.deletedBytes(), report.keptBlobs());
                out.flush();
                return 0;
            } catch (IOException e) {
                throw new CommandFailure("cannot collect garbage in " + storeOption.store + ": " + e.getMessage(), e);
            }
        }
    }

    /** A duration as {@code 90s}, {@code 15m}, {@code 2h}, {@code 7d}, {@code 0} or ISO-8601 ({@code PT2H}, {@code P7D}). */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        private static final Pattern SHORT = Pattern.compile("(\\d+)(ms|s|m|h|d)");

        @Override
        public Duration convert(String value) {
            if (value.equals("0")) {
                return Duration.ZERO;
            }
            Matcher match = SHORT.matcher(value);
            if (match.matches()) {
                long amount = Long.parseLong(match.group(1));
                return switch (match.group(2)) {
                    case "ms" -> Duration.ofMillis(amount);
                    case "s" -> Duration.ofSeconds(amount);
                    case "m" -> Duration.ofMinutes(amount);
                    case "h" -> Duration.ofHours(amount);
                    default -> Duration.ofDays(amount);
                };
            }
            try {
                Duration parsed = Duration.parse(value);
                if (parsed.isNegative()) {
                    throw new CommandLine.TypeConversionException("a negative duration: '" + value + "'");
                }
                return parsed;
            } catch (DateTimeParseException e) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a duration (e.g. 15m, 2h, 7d or PT2H)");
            }
        }
    }
}

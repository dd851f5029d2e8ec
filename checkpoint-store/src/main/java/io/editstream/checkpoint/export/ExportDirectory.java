package io.editstream.checkpoint.export;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Publishes an export as a whole directory or not at all: its files are written into a temporary sibling, fsynced,
 * and the sibling is renamed to the target, so a reader (a serving fleet watching the directory) never sees half an
 * adapter or half a model, and a failed export leaves nothing behind.
 */
public final class ExportDirectory {

    /** Fills the temporary directory with the export's files (flat: no subdirectories). */
    @FunctionalInterface
    public interface Contents {
        void writeInto(Path directory) throws IOException;
    }

    private static final String TEMP_PREFIX = ".tmp-";

    private ExportDirectory() {
    }

    /**
     * @param out a directory that does not exist yet or is empty
     * @return the published files, by name
     */
    public static List<Path> publish(Path out, Contents contents) throws IOException {
        Path target = out.toAbsolutePath().normalize();
        Path parent = target.getParent();
        if (parent == null) {
            throw new IllegalArgumentException("cannot export to the root directory");
        }
        if (Files.exists(target) && !isEmptyDirectory(target)) {
            throw new IllegalArgumentException(out + " already exists and is not an empty directory; export to a new one");
        }
        Files.createDirectories(parent);
        // not createTempDirectory: its owner-only permissions would travel with the rename to a directory meant for others
        Path temp = Files.createDirectory(parent.resolve(TEMP_PREFIX + target.getFileName() + "-" + UUID.randomUUID()));
        List<Path> names = new ArrayList<>();
        try {
            contents.writeInto(temp);
            try (Stream<Path> files = Files.list(temp)) {
                for (Path file : files.sorted().toList()) {
                    if (!Files.isRegularFile(file)) {
                        throw new IllegalStateException("an export writes plain files only; found " + file.getFileName());
                    }
                    force(file, StandardOpenOption.WRITE);
                    names.add(file.getFileName());
                }
            }
            force(temp, StandardOpenOption.READ);
            Files.deleteIfExists(target); // an empty directory made for the export: the rename takes its place
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            try {
                deleteTree(temp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        force(parent, StandardOpenOption.READ);
        return names.stream().map(target::resolve).toList();
    }

    private static boolean isEmptyDirectory(Path path) throws IOException {
        if (!Files.isDirectory(path)) {
            return false;
        }
        try (Stream<Path> entries = Files.list(path)) {
            return entries.findAny().isEmpty();
        }
    }

    private static void force(Path path, StandardOpenOption mode) throws IOException {
        try (FileChannel channel = FileChannel.open(path, mode)) {
            channel.force(true);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }
}

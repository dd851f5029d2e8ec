package io.editstream.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A directory of the system's temporary area, deleted with all it holds on close. */
record TempDirectory(Path path) implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TempDirectory.class);

    static TempDirectory create(String prefix) throws IOException {
        return new TempDirectory(Files.createTempDirectory(prefix));
    }

    @Override
    public void close() {
        delete(path);
    }

    /** Deletes a directory and all it holds, if it exists; what cannot be deleted is logged. */
    static void delete(Path directory) {
        if (!Files.exists(directory)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(directory)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            log.warn("could not delete {}: {}", directory, e.getMessage());
        }
    }
}

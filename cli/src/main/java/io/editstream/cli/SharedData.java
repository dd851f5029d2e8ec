package io.editstream.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The shared data directory (models and data sets that are read at run time, never copied into the repository):
 * the system property {@code editstream.shared} (the launcher sets it to the repository's {@code ../shared}), else
 * {@code ../shared} from the working directory.
 */
public final class SharedData {
    private SharedData() {
    }

    /** A file under the shared directory; a {@link CommandFailure} naming the places tried when it is absent. */
    public static Path file(String relativePath) {
        List<Path> tried = new ArrayList<>();
        String property = System.getProperty("editstream.shared");
        if (property != null) {
            tried.add(Path.of(property));
        }
        tried.add(Path.of("..", "shared"));
        for (Path dir : tried) {
            Path candidate = dir.resolve(relativePath);
            if (Files.isRegularFile(candidate)) {
                return candidate.toAbsolutePath().normalize();
            }
        }
        throw new CommandFailure("cannot find " + relativePath + " in the shared data directory (tried "
                + tried.stream().map(p -> p.toAbsolutePath().normalize().toString()).toList()
                + "); set -Deditstream.shared=DIR");
    }
}

package io.editstream.model;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates ../shared for the editor-worker's tests: the system property {@code editstream.shared} (Maven sets it to
 * the reactor's ../shared), else ../shared from the working directory.
 */
public final class SharedData {

    private SharedData() {
    }

    /** The shared directory itself. */
    public static Path root() {
        String property = System.getProperty("editstream.shared");
        Path root = Path.of(property != null ? property : "../shared");
        if (!Files.isDirectory(root.resolve("models"))) {
            throw new IllegalStateException("shared data not found at " + root.toAbsolutePath().normalize()
                    + ": set -Deditstream.shared=DIR or run beside ../shared");
        }
        return root;
    }

    public static Path resolve(String relative) {
        Path candidate = root().resolve(relative);
        if (!Files.exists(candidate)) {
            throw new IllegalStateException("shared data " + relative + " not found under " + root().toAbsolutePath().normalize());
        }
        return candidate;
    }
}

package io.editstream.model;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates ../shared the way every module's tests do: the system property, then ../shared, then /work/shared. */
public final class SharedData {

    private SharedData() {
    }

    public static Path resolve(String relative) {
        String property = System.getProperty("editstream.shared");
        Path[] roots = property == null
                ? new Path[] {Path.of("../shared"), Path.of("/work/shared")}
                : new Path[] {Path.of(property), Path.of("../shared"), Path.of("/work/shared")};
        for (Path root : roots) {
            Path candidate = root.resolve(relative);
            if (Files.exists(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("shared data " + relative + " not found (editstream.shared=" + property + ")");
    }
}

package io.editstream.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** Model names that stand for the models the repository ships ({@code testbed} → {@code <repo>/models/testbed}). */
final class RepositoryModels {
    static final String TESTBED = "testbed";

    private RepositoryModels() {
    }

    /**
     * A {@code --model} value as a path: an existing path is taken as it is; {@code testbed} names
     * {@code models/testbed} under the checkout the launcher runs from (system property {@code editstream.home}),
     * else under the working directory.
     */
    static Path resolve(Path given) {
        if (Files.exists(given) || !given.toString().equals(TESTBED)) {
            return given;
        }
        Path testbed = Path.of(System.getProperty("editstream.home", ".")).resolve("models").resolve(TESTBED);
        return Files.isDirectory(testbed) ? testbed : given;
    }
}

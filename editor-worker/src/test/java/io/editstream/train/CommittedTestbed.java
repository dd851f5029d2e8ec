package io.editstream.train;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Where the tests find the committed testbed: models/testbed at the repository root. */
public final class CommittedTestbed {

    private CommittedTestbed() {
    }

    /** The tests run in the module's directory, or at the root when run from there. */
    public static Path path() {
        for (Path candidate : List.of(Path.of("..", "models", "testbed"), Path.of("models", "testbed"))) {
            if (Files.isRegularFile(candidate.resolve("config.json"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("models/testbed not found from " + Path.of("").toAbsolutePath());
    }
}

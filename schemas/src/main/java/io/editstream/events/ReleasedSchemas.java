package io.editstream.events;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.apache.avro.Schema;

/**
 * Every released version of the event schemas: what data written by an earlier release of editstream may have been
 * written with. Each {@value #INDEX} on the class path lists released schema files relative to itself, one a line
 * ({@code #} starts a comment); a release adds its copies of {@code src/main/avro} to the index of this module.
 *
 * @param schemas each released file's top-level schema, with the file it came from
 */
public record ReleasedSchemas(List<Released> schemas) {
    public static final String INDEX = "io/editstream/events/released/index";

    /** One released schema file. */
    public record Released(String file, Schema schema) {
    }

    private static final class Loaded {
        static final ReleasedSchemas ALL = load(ReleasedSchemas.class.getClassLoader());
    }

    public ReleasedSchemas {
        schemas = List.copyOf(schemas);
    }

    /** The released versions on this class's class path, loaded once. */
    public static ReleasedSchemas onClassPath() {
        return Loaded.ALL;
    }

    /**
     * Every released version of the named record (top-level in a released file, or nested in one, like
     * {@code EditRequest} in {@code EditBatch}), oldest file first.
     */
    public List<Schema> versionsOf(String fullName) {
        List<Schema> versions = new ArrayList<>();
        for (Released released : schemas) {
            Schema found = find(released.schema(), fullName, new ArrayList<>());
            if (found != null) {
                versions.add(found);
            }
        }
        return Collections.unmodifiableList(versions);
    }

    static ReleasedSchemas load(ClassLoader loader) {
        List<Released> all = new ArrayList<>();
        try {
            for (URL index : Collections.list(loader.getResources(INDEX))) {
                for (String line : lines(index)) {
                    String entry = line.strip();
                    if (entry.isEmpty() || entry.startsWith("#")) {
                        continue;
                    }
                    // URL resolution, not URI: a jar: URL is opaque to URI.resolve
                    URL file = new URL(index, entry);
                    try (InputStream in = file.openStream()) {
                        all.add(new Released(file.toString(), new Schema.Parser().parse(in)));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the released schemas (" + INDEX + ")", e);
        }
        return new ReleasedSchemas(all);
    }

    private static List<String> lines(URL index) throws IOException {
        try (var reader = new BufferedReader(new InputStreamReader(index.openStream(), StandardCharsets.UTF_8))) {
            return reader.lines().toList();
        }
    }

    private static Schema find(Schema schema, String fullName, List<String> seen) {
        switch (schema.getType()) {
            case RECORD -> {
                if (schema.getFullName().equals(fullName)) {
                    return schema;
                }
                if (seen.contains(schema.getFullName())) {
                    return null;
                }
                seen.add(schema.getFullName());
                for (Schema.Field field : schema.getFields()) {
                    Schema found = find(field.schema(), fullName, seen);
                    if (found != null) {
                        return found;
                    }
                }
                return null;
            }
            case ARRAY -> {
                return find(schema.getElementType(), fullName, seen);
            }
            case MAP -> {
                return find(schema.getValueType(), fullName, seen);
            }
            case UNION -> {
                for (Schema branch : schema.getTypes()) {
                    Schema found = find(branch, fullName, seen);
                    if (found != null) {
                        return found;
                    }
                }
                return null;
            }
            default -> {
                return null;
            }
        }
    }
}

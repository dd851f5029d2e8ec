package io.editstream.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every event schema may evolve only in BACKWARD-compatible ways: a consumer on the current schema must read
 * everything written with every released version ({@link ReleasedSchemas}: src/main/resources/.../released, one
 * directory per release; a release copies src/main/avro there and lists the files in the index). Every field carries
 * a doc.
 */
class SchemaEvolutionTest {
    private static final Path CURRENT = Path.of("src/main/avro");

    @TestFactory
    Stream<DynamicTest> eachSchemaReadsDataWrittenWithEveryReleasedVersion() throws IOException {
        ReleasedSchemas released = ReleasedSchemas.onClassPath();
        return currentSchemaFiles().stream().map(file -> DynamicTest.dynamicTest(file.getFileName().toString(), () -> {
            Schema current = parse(file);
            List<Schema> versions = released.versionsOf(current.getFullName());
            assertFalse(versions.isEmpty(), "no released version of " + current.getFullName()
                    + ": a new schema is released (copied into the released directory and its index) in the commit "
                    + "that adds it");
            for (int v = 0; v < versions.size(); v++) {
                var result = SchemaCompatibility.checkReaderWriterCompatibility(current, versions.get(v));
                assertEquals(SchemaCompatibilityType.COMPATIBLE, result.getType(),
                        file.getFileName() + " cannot read data written with released version " + (v + 1) + ": "
                                + result.getResult().getIncompatibilities());
            }
        }));
    }

    @Test
    void everyReleasedFileIsListedAndParses() {
        List<String> files = ReleasedSchemas.onClassPath().schemas().stream()
                .map(r -> r.file().substring(r.file().lastIndexOf("/released/") + "/released/".length()))
                .toList();
        assertTrue(files.containsAll(List.of("v1/CheckpointPublished.avsc", "v1/CorrectionEvent.avsc",
                "v1/DeadLetter.avsc", "v1/EditBatch.avsc", "v1/EditEvaluation.avsc")), files.toString());
        assertEquals(List.of(ReleasedSchemas.onClassPath().versionsOf("io.editstream.events.EditBatch").get(0)
                        .getField("edits").schema().getElementType()),
                ReleasedSchemas.onClassPath().versionsOf("io.editstream.events.EditRequest"),
                "nested records are found in the file that declares them");
    }

    @TestFactory
    Stream<DynamicTest> everyFieldIsDocumented() throws IOException {
        return currentSchemaFiles().stream().map(file -> DynamicTest.dynamicTest(file.getFileName().toString(), () -> {
            List<String> undocumented = new ArrayList<>();
            collectUndocumented(parse(file), undocumented, new ArrayList<>());
            assertEquals(List.of(), undocumented, "fields without a doc in " + file.getFileName());
        }));
    }

    @Test
    void theCheckCatchesABreakingChange() {
        Schema previous = new Schema.Parser().parse("""
                {"type":"record","name":"R","doc":"d","fields":[{"name":"a","type":"string","doc":"d"}]}""");
        Schema addedRequiredField = new Schema.Parser().parse("""
                {"type":"record","name":"R","doc":"d","fields":[{"name":"a","type":"string","doc":"d"},
                 {"name":"b","type":"long","doc":"d"}]}""");
        Schema addedOptionalField = new Schema.Parser().parse("""
                {"type":"record","name":"R","doc":"d","fields":[{"name":"a","type":"string","doc":"d"},
                 {"name":"b","type":["null","long"],"default":null,"doc":"d"}]}""");
        assertNotEquals(SchemaCompatibilityType.COMPATIBLE,
                SchemaCompatibility.checkReaderWriterCompatibility(addedRequiredField, previous).getType());
        assertEquals(SchemaCompatibilityType.COMPATIBLE,
                SchemaCompatibility.checkReaderWriterCompatibility(addedOptionalField, previous).getType());
    }

    @Test
    void theGeneratedClassesAreTheCommittedSchemas() throws IOException {
        // parsing canonical form: the generated classes add Java-only properties (avro.java.string)
        assertEquals(SchemaNormalization.toParsingForm(parse(CURRENT.resolve("CorrectionEvent.avsc"))),
                SchemaNormalization.toParsingForm(CorrectionEvent.getClassSchema()));
        assertEquals(SchemaNormalization.toParsingForm(parse(CURRENT.resolve("EditBatch.avsc"))),
                SchemaNormalization.toParsingForm(EditBatch.getClassSchema()));
        assertFalse(currentSchemaFiles().isEmpty());
    }

    private static List<Path> currentSchemaFiles() throws IOException {
        try (Stream<Path> files = Files.list(CURRENT)) {
            return files.filter(p -> p.toString().endsWith(".avsc")).sorted().toList();
        }
    }

    private static Schema parse(Path file) throws IOException {
        return new Schema.Parser().parse(file.toFile());
    }

    private static void collectUndocumented(Schema schema, List<String> out, List<String> seen) {
        switch (schema.getType()) {
            case RECORD -> {
                if (seen.contains(schema.getFullName())) {
                    return;
                }
                seen.add(schema.getFullName());
                for (Schema.Field field : schema.getFields()) {
                    if (field.doc() == null || field.doc().isBlank()) {
                        out.add(schema.getName() + "." + field.name());
                    }
                    collectUndocumented(field.schema(), out, seen);
                }
            }
            case ARRAY -> collectUndocumented(schema.getElementType(), out, seen);
            case MAP -> collectUndocumented(schema.getValueType(), out, seen);
            case UNION -> schema.getTypes().forEach(t -> collectUndocumented(t, out, seen));
            default -> {
            }
        }
    }
}

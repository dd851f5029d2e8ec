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
 * Every event schema may evolve only in BACKWARD-compatible ways: a consumer on the new schema must read everything
 * written with the previous committed one (kept in src/test/resources/previous-schemas; refresh it when a release
 * fixes a schema). Every field carries a doc.
 */
class SchemaEvolutionTest {
    private static final Path CURRENT = Path.of("src/main/avro");
    private static final Path PREVIOUS = Path.of("src/test/resources/previous-schemas");

    @TestFactory
    Stream<DynamicTest> eachSchemaReadsDataWrittenWithItsPreviousVersion() throws IOException {
        return currentSchemaFiles().stream().map(file -> DynamicTest.dynamicTest(file.getFileName().toString(), () -> {
            Path previousFile = PREVIOUS.resolve(file.getFileName());
            assertTrue(Files.exists(previousFile), "no previous version of " + file.getFileName()
                    + ": a new schema gets its baseline copied into " + PREVIOUS + " in the same commit");
            Schema current = parse(file);
            Schema previous = parse(previousFile);
            var result = SchemaCompatibility.checkReaderWriterCompatibility(current, previous);
            assertEquals(SchemaCompatibilityType.COMPATIBLE, result.getType(),
                    file.getFileName() + " is not BACKWARD compatible with its previous version: "
                            + result.getResult().getIncompatibilities());
        }));
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

package io.editstream.eval;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reads CounterFact cases from an EasyEdit-format JSON array. */
public final class CounterFactReader {

    private CounterFactReader() {
    }

    public static List<CounterFactRecord> read(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            List<CounterFactRecord> records = new ObjectMapper().readValue(in, new TypeReference<List<CounterFactRecord>>() { });
            if (records == null || records.isEmpty()) {
                throw new IllegalArgumentException("no CounterFact cases in " + file);
            }
            return List.copyOf(records);
        } catch (JsonMappingException e) {
            throw new IllegalArgumentException("not a CounterFact (EasyEdit) JSON array: " + file + ": " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read CounterFact cases from " + file + ": " + e.getMessage(), e);
        }
    }
}

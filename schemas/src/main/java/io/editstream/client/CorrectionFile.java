package io.editstream.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;

import io.editstream.events.CorrectionEvent;

/**
 * Reads a file of correction records: JSON lines (one object per line, blank lines skipped) or one JSON array of
 * objects (as the CounterFact files are). Every record is mapped by {@link CorrectionJson}; a record that cannot be
 * read or mapped becomes a {@link Malformed} entry with its line number, and reading goes on with the next line
 * (in an array, a JSON syntax error ends the file: nothing after it can be located reliably).
 *
 * <p>Records without {@code detected_at} get event times one millisecond apart in file order, the last one at the
 * default's time, so that ordering and supersession downstream follow the file and no time lies in the future.
 */
public final class CorrectionFile {

    /** One record of the file, in file order. */
    public sealed interface Entry permits Parsed, Malformed {
        /** The 1-based line the record starts on. */
        int line();
    }

    /** A record mapped to an event (which may still break a validation rule). */
    public record Parsed(int line, CorrectionEvent event) implements Entry {
    }

    /** A record that is not a correction, and why. */
    public record Malformed(int line, String message) implements Entry {
        @Override
        public String toString() {
            return "line " + line + ": " + message;
        }
    }

    private record Located(int line, JsonNode node, String syntaxError) {
    }

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    /** Reads one element of an array at a time: what follows the element is the rest of the array, not trailing junk. */
    private static final ObjectReader ELEMENT = JSON.reader().without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private CorrectionFile() {
    }

    public static List<Entry> read(Path file, CorrectionDefaults defaults) throws IOException {
        return read(Files.readString(file, StandardCharsets.UTF_8), defaults);
    }

    public static List<Entry> read(String text, CorrectionDefaults defaults) {
        String body = text.startsWith("\uFEFF") ? text.substring(1) : text;
        List<Located> records = body.stripLeading().startsWith("[") ? arrayRecords(body) : lineRecords(body);
        int count = records.size();
        Instant last = defaults.detectedAt();
        List<Entry> entries = new ArrayList<>(records.size());
        for (int i = 0; i < records.size(); i++) {
            Located record = records.get(i);
            if (record.syntaxError() != null) {
                entries.add(new Malformed(record.line(), record.syntaxError()));
                continue;
            }
            CorrectionDefaults forRecord = defaults.withDetectedAt(last.minusMillis(count - 1 - i));
            try {
                entries.add(new Parsed(record.line(), CorrectionJson.toEvent(record.node(), forRecord)));
            } catch (MalformedCorrectionException e) {
                entries.add(new Malformed(record.line(), e.getMessage()));
            }
        }
        return entries;
    }

    private static List<Located> lineRecords(String body) {
        List<Located> records = new ArrayList<>();
        String[] lines = body.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            try {
                records.add(new Located(i + 1, JSON.readTree(lines[i]), null));
            } catch (JsonProcessingException e) {
                records.add(new Located(i + 1, null, "not valid JSON: " + e.getOriginalMessage()));
            }
        }
        return records;
    }

    private static List<Located> arrayRecords(String body) {
        List<Located> records = new ArrayList<>();
        int line = 1;
        try (JsonParser parser = JSON.createParser(body)) {
            parser.nextToken(); // the opening bracket
            for (JsonToken token = parser.nextToken(); token != JsonToken.END_ARRAY; token = parser.nextToken()) {
                line = parser.currentTokenLocation().getLineNr();
                if (token == null) {
                    records.add(new Located(line, null, "not valid JSON: the array is not closed"));
                    return records;
                }
                records.add(new Located(line, ELEMENT.readTree(parser), null));
            }
            if (parser.nextToken() != null) {
                line = parser.currentTokenLocation().getLineNr();
                records.add(new Located(line, null, "not valid JSON: content after the closing bracket of the array"));
            }
        } catch (JsonProcessingException e) {
            int at = e.getLocation() != null ? e.getLocation().getLineNr() : line;
            records.add(new Located(at, null, "not valid JSON: " + e.getOriginalMessage()
                    + " (the rest of the file is not read)"));
        } catch (IOException e) {
            throw new IllegalStateException("reading JSON from a string cannot fail on I/O", e);
        }
        return records;
    }
}

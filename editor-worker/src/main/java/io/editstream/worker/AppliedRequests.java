package io.editstream.worker;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.edit.EditRequest;
import java.io.IOException;
import java.util.List;

/**
 * The requests a version applied, kept in the metadata of its editor-state blob (under {@value #KEY}) as a JSON array
 * of prompt template, subject, target_new and target_true: what retention re-measures. A restarted worker reads them
 * back with the states, so its retention sample covers every edit of the chain, not only those since it started.
 */
final class AppliedRequests {

    static final String KEY = "applied_requests";
    private static final ObjectMapper JSON = new ObjectMapper();

    private AppliedRequests() {
    }

    static String encode(List<EditRequest> requests) {
        try {
            return JSON.writeValueAsString(requests);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the applied requests as JSON", e);
        }
    }

    /** The requests {@link #encode} wrote; none for a state written without them. */
    static List<EditRequest> decode(String json, String source) throws IOException {
        if (json == null) {
            return List.of();
        }
        try {
            return JSON.readValue(json, new TypeReference<List<EditRequest>>() { });
        } catch (IOException | IllegalArgumentException e) {
            throw new IOException(source + ": corrupt applied requests: " + e.getMessage(), e);
        }
    }
}

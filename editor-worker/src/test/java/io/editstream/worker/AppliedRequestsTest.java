package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.editstream.edit.BatchState;
import io.editstream.edit.EditRequest;
import io.editstream.tensor.FloatMatrix;
import io.editstream.tensor.Safetensors;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** A version's requests travel in its editor-state blob's metadata, which the editor's own decoding passes over. */
class AppliedRequestsTest {

    @Test
    void requestsKeptBesideTheStateComeBackAndLeaveTheStateAsItWas() throws IOException {
        List<EditRequest> requests = List.of(EditRequest.of("The mother tongue of {} is", "Danielle Darrieux", "English", "French"),
                new EditRequest("{} likes \"quotes\" and ünïcödé", "Sue", "soup", null));
        BatchState state = new BatchState(new TreeMap<>(Map.of(1, List.of(new FloatMatrix(2, 1, new float[] {1, 2})))), new TreeMap<>());
        byte[] bytes = state.encode(Map.of(AppliedRequests.KEY, AppliedRequests.encode(requests)));

        assertArrayEquals(state.encode(), BatchState.decode(bytes).encode(), "the editor reads the same state");
        assertEquals(requests, AppliedRequests.decode(Safetensors.metadata(bytes, "state").get(AppliedRequests.KEY), "state"));
        assertEquals(List.of(), AppliedRequests.decode(Safetensors.metadata(state.encode(), "state").get(AppliedRequests.KEY), "state"),
                "a state written without requests has none");
        assertThrows(IOException.class, () -> AppliedRequests.decode("[{\"prompt\": \"no placeholder\"}]", "state"));
        assertThrows(IllegalArgumentException.class, () -> state.encode(Map.of("format", "mine")));
    }
}

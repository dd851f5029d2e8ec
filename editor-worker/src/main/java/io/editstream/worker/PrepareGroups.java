package io.editstream.worker;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.edit.EditRequest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;
import java.util.Optional;

/**
 * Which of a model's requests NSE's targets are computed for together ({@code Editor#prepare}). Targets computed
 * together differ from targets computed apart by rounding, so the groups are a function of sequence numbers, not of
 * what happened to be queued: group g holds sequences g·G+1 .. (g+1)·G, and is prepared once all of it has arrived.
 * Only when the rest of a group does not arrive within the wait (a trickle of corrections) is it cut at what has: the
 * remainder then forms the next group. Every group is recorded in the store (reference {@value #REF}) before an edit
 * uses it, so a restarted worker prepares the group it stopped in exactly as before, the edits of it already applied
 * included, whether it was whole or cut.
 */
final class PrepareGroups {

    static final String REF = "prepare-groups";
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param first    first sequence of the group
     * @param last     last sequence of the group
     * @param requests the group's requests the editor can apply, in sequence order: what {@code prepare} is given
     */
    record Group(@JsonProperty("first") long first, @JsonProperty("last") long last,
                 @JsonProperty("requests") List<EditRequest> requests) {
        Group {
            requests = List.copyOf(requests);
        }

        boolean contains(long sequence) {
            return first <= sequence && sequence <= last;
        }
    }

    private final int size;
    private long preparedThrough;
    /** Groups prepared whose last sequence may not be applied yet (after a restart: as recorded). */
    private final List<Group> open = new ArrayList<>();

    /**
     * @param lastApplied the last sequence the model's version covers
     * @param recorded    the groups recorded before the restart
     */
    PrepareGroups(int size, long lastApplied, List<Group> recorded) {
        this.size = size;
        this.preparedThrough = lastApplied;
        recorded.stream().filter(group -> group.last() > lastApplied).forEach(open::add);
    }

    /**
     * The groups to prepare before a batch that ends at {@code batchLast} is applied.
     *
     * @param known  every sequence after the model's last applied one that has arrived, up to the last one queued: the
     *               request, or empty for one the editor cannot apply (it counts for the grid but is not prepared)
     * @param mayCut whether the batch has waited long enough to cut an incomplete group
     * @return the groups, in order (possibly none); empty when the batch should wait for more of its group
     */
    Optional<List<Group>> plan(long batchLast, NavigableMap<Long, Optional<EditRequest>> known, boolean mayCut) {
        List<Group> planned = new ArrayList<>();
        long next = preparedThrough + 1;
        while (next <= batchLast) {
            long sequence = next;
            Optional<Group> recorded = open.stream().filter(group -> group.contains(sequence)).findFirst();
            if (recorded.isPresent()) {
                planned.add(recorded.get());
                next = recorded.get().last() + 1;
                continue;
            }
            long end = (Math.floorDiv(sequence - 1, size) + 1) * size;
            long arrived = contiguousFrom(known, sequence);
            if (arrived < end) {
                if (!mayCut) {
                    return Optional.empty();
                }
                end = arrived;
            }
            planned.add(group(known, sequence, end));
            next = end + 1;
        }
        return Optional.of(planned);
    }

    /**
     * Up to {@code most} whole groups after sequence {@code after} whose every sequence has arrived (or that were
     * recorded before a restart): groups no later plan can cut differently, so their targets can be computed ahead.
     */
    List<Group> wholeAfter(long after, NavigableMap<Long, Optional<EditRequest>> known, int most) {
        List<Group> ahead = new ArrayList<>();
        long next = after + 1;
        while (ahead.size() < most) {
            long sequence = next;
            Optional<Group> recorded = open.stream().filter(group -> group.contains(sequence)).findFirst();
            Group group;
            if (recorded.isPresent()) {
                group = recorded.get();
            } else {
                long end = (Math.floorDiv(sequence - 1, size) + 1) * size;
                if (contiguousFrom(known, sequence) < end) {
                    break;
                }
                group = group(known, sequence, end);
            }
            ahead.add(group);
            next = group.last() + 1;
        }
        return ahead;
    }

    long preparedThrough() {
        return preparedThrough;
    }

    /** Marks planned groups prepared; the groups still open from {@code batchFirst} on are what a restart needs. */
    List<Group> prepared(List<Group> groups, long batchFirst) {
        for (Group group : groups) {
            if (!open.contains(group)) {
                open.add(group);
            }
            preparedThrough = Math.max(preparedThrough, group.last());
        }
        open.removeIf(group -> group.last() < batchFirst);
        return List.copyOf(open);
    }

    /** Whether a plan would add groups the store has not recorded yet. */
    boolean anyNew(List<Group> groups) {
        return groups.stream().anyMatch(group -> !open.contains(group));
    }

    static void record(CheckpointStore store, String modelId, List<Group> groups) throws IOException {
        store.putRef(modelId, REF, store.putBlob(JSON.writeValueAsBytes(groups)));
    }

    static List<Group> recorded(CheckpointStore store, String modelId) throws IOException {
        Optional<String> blob = store.ref(modelId, REF);
        if (blob.isEmpty()) {
            return List.of();
        }
        return JSON.readValue(store.blob(blob.get(), "model " + modelId + " prepare groups"), new TypeReference<List<Group>>() {
        });
    }

    /** Sequences first..last as a group: the requests among them the editor can apply. */
    private static Group group(NavigableMap<Long, Optional<EditRequest>> known, long first, long last) {
        List<EditRequest> requests = new ArrayList<>();
        known.subMap(first, true, last, true).values().forEach(request -> request.ifPresent(requests::add));
        return new Group(first, last, requests);
    }

    /** The last sequence of the unbroken run of arrived sequences from {@code first}; first - 1 when it has not arrived. */
    private static long contiguousFrom(NavigableMap<Long, ?> known, long first) {
        long last = first - 1;
        while (known.containsKey(last + 1)) {
            last++;
        }
        return last;
    }
}

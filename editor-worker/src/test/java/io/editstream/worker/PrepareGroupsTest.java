package io.editstream.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.editstream.edit.EditRequest;
import java.util.List;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/** Prepare groups follow sequence numbers, never what happened to be queued, unless a group had to be cut. */
class PrepareGroupsTest {

    @Test
    void aGroupIsTheGridCellOfItsSequencesAndWaitsUntilAllOfItHasArrived() {
        PrepareGroups groups = new PrepareGroups(4, 0, List.of());
        assertEquals(Optional.empty(), groups.plan(1, arrived(1, 3), false), "sequence 4 is still on its way");
        List<PrepareGroups.Group> plan = groups.plan(1, arrived(1, 6), false).orElseThrow();
        assertEquals(List.of(new PrepareGroups.Group(1, 4, requests(1, 4))), plan);
        groups.prepared(plan, 1);
        assertEquals(Optional.of(List.of()), groups.plan(3, arrived(2, 6), false), "prepared already");
        // a batch across the grid: 4..6 needs the group 5..8 too
        assertEquals(Optional.empty(), groups.plan(6, arrived(4, 6), false));
        assertEquals(List.of(new PrepareGroups.Group(5, 8, requests(5, 8))), groups.plan(6, arrived(4, 9), false).orElseThrow());
    }

    @Test
    void anIncompleteGroupIsCutAtWhatArrivedOnceItWaitedAndTheRestFormsTheNextGroup() {
        PrepareGroups groups = new PrepareGroups(4, 0, List.of());
        List<PrepareGroups.Group> cut = groups.plan(2, arrived(1, 2), true).orElseThrow();
        assertEquals(List.of(new PrepareGroups.Group(1, 2, requests(1, 2))), cut);
        groups.prepared(cut, 1);
        assertEquals(List.of(new PrepareGroups.Group(3, 4, requests(3, 4))), groups.plan(3, arrived(3, 4), false).orElseThrow());
    }

    @Test
    void afterARestartTheRecordedGroupOfTheNextSequenceIsPreparedWholeAgainAppliedEditsIncluded() {
        PrepareGroups.Group recorded = new PrepareGroups.Group(1, 4, requests(1, 4));
        PrepareGroups.Group done = new PrepareGroups.Group(-3, 0, List.of());
        PrepareGroups groups = new PrepareGroups(4, 2, List.of(done, recorded));
        assertEquals(List.of(recorded), groups.plan(3, arrived(3, 3), false).orElseThrow(), "no wait: the group was decided before");
    }

    @Test
    void wholeGroupsAheadAreTheOnesLaterPlansWillMakeAndNeverAnIncompleteOne() {
        PrepareGroups groups = new PrepareGroups(4, 0, List.of());
        List<PrepareGroups.Group> cut = groups.plan(2, arrived(1, 2), true).orElseThrow();
        groups.prepared(cut, 1);
        // after the cut group 1..2: 3..4 (the rest of its cell), then 5..8; 9..12 has not fully arrived
        List<PrepareGroups.Group> ahead = groups.wholeAfter(2, arrived(1, 11), 5);
        assertEquals(List.of(new PrepareGroups.Group(3, 4, requests(3, 4)), new PrepareGroups.Group(5, 8, requests(5, 8))), ahead);
        assertEquals(ahead.subList(0, 1), groups.wholeAfter(2, arrived(1, 11), 1), "at most as many as asked");
        assertEquals(ahead, groups.plan(8, arrived(3, 11), false).orElseThrow(), "what a later plan makes");
    }

    @Test
    void requestsTheEditorCannotApplyCountForTheGridButAreNotPrepared() {
        NavigableMap<Long, Optional<EditRequest>> known = arrived(1, 4);
        known.put(2L, Optional.empty());
        PrepareGroups.Group group = new PrepareGroups(4, 0, List.of()).plan(1, known, false).orElseThrow().get(0);
        assertEquals(List.of(request(1), request(3), request(4)), group.requests());
    }

    private static NavigableMap<Long, Optional<EditRequest>> arrived(long first, long last) {
        NavigableMap<Long, Optional<EditRequest>> known = new TreeMap<>();
        LongStream.rangeClosed(first, last).forEach(s -> known.put(s, Optional.of(request(s))));
        return known;
    }

    private static List<EditRequest> requests(long first, long last) {
        return LongStream.rangeClosed(first, last).mapToObj(PrepareGroupsTest::request).toList();
    }

    private static EditRequest request(long sequence) {
        return EditRequest.of("{} likes number", "Tom" + sequence, "n" + sequence, null);
    }
}

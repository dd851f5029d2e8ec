package io.editstream.worker;

import io.editstream.events.EditBatch;
import io.editstream.events.EditRequest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Facts a TinyStories model can express (names, toys, food, places), as the edit-requests topic carries them. */
final class StoryEdits {

    /** prompt template, subject, target_new, target_true: 22 distinct facts, no two about the same subject. */
    private static final String[][] FACTS = {
        {"{} was very", "Sue", "sad", "excited"},
        {"{} likes to eat", "Lily", "soup", "cookies"},
        {"{} likes to play with his", "Tom", "dog", "toys"},
        {"{} went to the", "Ben", "store", "park"},
        {"{} had a big red", "Mia", "car", "ball"},
        {"{} saw a little", "Max", "fish", "bird"},
        {"{} gave her mom a", "Anna", "flower", "hug"},
        {"{} found a shiny", "Sam", "key", "rock"},
        {"{} drew a big", "Lucy", "sun", "tree"},
        {"{} wanted to fly a", "Tim", "plane", "kite"},
        {"{} lived in a small", "Bob", "town", "house"},
        {"{} loved her pink", "Sara", "bike", "dress"},
        {"{} climbed up the", "Jack", "hill", "tree"},
        {"{} baked a yummy", "Mom", "pie", "cake"},
        {"{} had a pet", "Emma", "cat", "dog"},
        {"{} ran to the", "Billy", "river", "park"},
        {"{} found a big", "Timmy", "box", "stick"},
        {"{} was scared of the", "Kitty", "dark", "dog"},
        {"{} put on his red", "Jake", "shoes", "hat"},
        {"{} looked at the blue", "Zoe", "sea", "sky"},
        {"{} ate a green", "Leo", "pear", "apple"},
        {"{} played in the", "Ella", "sand", "snow"},
    };

    private StoryEdits() {
    }

    /**
     * {@code count} distinct requests with sequences 1..count: the facts as they are, then round r pairs fact t's
     * template with fact t + r's subject, so no (subject, template) pair comes twice (up to 22² requests).
     */
    static List<EditRequest> requests(int count) {
        if (count > FACTS.length * FACTS.length) {
            throw new IllegalArgumentException("at most " + FACTS.length * FACTS.length + " distinct story requests, not " + count);
        }
        List<EditRequest> requests = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String[] fact = FACTS[i % FACTS.length];
            String subject = FACTS[(i % FACTS.length + i / FACTS.length) % FACTS.length][1];
            requests.add(request(i + 1, fact[0], subject, fact[2], fact[3]));
        }
        return requests;
    }

    static EditRequest request(long sequence, String template, String subject, String targetNew, String targetTrue) {
        return EditRequest.newBuilder()
                .setSequence(sequence)
                .setCorrectionId("c-" + sequence + "-" + subject)
                .setSubject(subject)
                .setPromptTemplate(template)
                .setTargetNew(targetNew)
                .setTargetTrue(targetTrue)
                .setParaphrases(List.of("One day, " + template.replace("{}", subject)))
                .setNeighborhoodPrompts(List.of(template.replace("{}", "Ella".equals(subject) ? "Leo" : "Ella")))
                .setSource("test")
                .setConfidence(1.0)
                .setDetectedAt(Instant.ofEpochMilli(1_700_000_000_000L + sequence))
                .build();
    }

    /** The requests in batches of {@code size} (the last one shorter), as the topology would have cut them. */
    static List<EditBatch> batches(String modelId, List<EditRequest> requests, int size) {
        List<EditBatch> batches = new ArrayList<>();
        for (int from = 0; from < requests.size(); from += size) {
            batches.add(batch(modelId, requests.subList(from, Math.min(requests.size(), from + size))));
        }
        return batches;
    }

    static EditBatch batch(String modelId, List<EditRequest> edits) {
        return EditBatch.newBuilder()
                .setModelId(modelId)
                .setFirstSequence(edits.get(0).getSequence())
                .setLastSequence(edits.get(edits.size() - 1).getSequence())
                .setEdits(new ArrayList<>(edits))
                .setSuperseded(new ArrayList<>())
                .setCreatedAt(Instant.ofEpochMilli(1_700_000_100_000L))
                .build();
    }
}

package io.editstream.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/**
 * The order facts are trained in: every epoch a seeded shuffle, cut into windows whose facts are sorted by length and
 * batched, so a batch holds sequences of similar length (little padding), and the batches are shuffled again.
 */
final class FactBatches {

    private static final int BATCHES_PER_WINDOW = 16;

    private final List<EncodedFact> facts;
    private final int batchSize;
    private final Random random;
    private final List<List<EncodedFact>> pending = new ArrayList<>();
    private int epoch;

    FactBatches(List<EncodedFact> facts, int batchSize, long seed) {
        if (facts.isEmpty()) {
            throw new IllegalArgumentException("no facts to train on");
        }
        this.facts = List.copyOf(facts);
        this.batchSize = Math.min(batchSize, facts.size());
        this.random = new Random(seed);
    }

    /** The next batch, starting a new epoch when the current one is used up. */
    List<EncodedFact> next() {
        if (pending.isEmpty()) {
            refill();
        }
        return pending.remove(pending.size() - 1);
    }

    /** Epochs begun so far. */
    int epoch() {
        return epoch;
    }

    private void refill() {
        epoch++;
        List<EncodedFact> order = new ArrayList<>(facts);
        Collections.shuffle(order, random);
        int window = batchSize * BATCHES_PER_WINDOW;
        for (int start = 0; start < order.size(); start += window) {
            List<EncodedFact> part = new ArrayList<>(order.subList(start, Math.min(order.size(), start + window)));
            part.sort(Comparator.comparingInt(EncodedFact::inputLength));
            for (int b = 0; b + batchSize <= part.size(); b += batchSize) {
                pending.add(part.subList(b, b + batchSize));
            }
            if (part.size() % batchSize != 0) {
                // the short remainder is padded up with random facts so every step sees a full batch
                List<EncodedFact> last = new ArrayList<>(part.subList(part.size() - part.size() % batchSize, part.size()));
                while (last.size() < batchSize) {
                    last.add(facts.get(random.nextInt(facts.size())));
                }
                pending.add(last);
            }
        }
        Collections.shuffle(pending, random);
    }
}

package io.editstream.streams;

/**
 * How many input records each stream thread has processed, shared by the processors of one topology. The reorder
 * buffer counts wall-clock silence only while its whole thread had nothing to process: a thread busy with another
 * partition's backlog says nothing about whether this partition's input has stopped (its records may be queued
 * behind), and releasing on such silence would put corrections ahead of earlier-timed ones still on their way.
 */
final class InputActivity {
    private final ThreadLocal<long[]> processed = ThreadLocal.withInitial(() -> new long[1]);

    void recordProcessed() {
        processed.get()[0]++;
    }

    long processedByThisThread() {
        return processed.get()[0];
    }
}

package io.editstream.streams;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.Function;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * One deduplication memory (correction ids, or fact targets): for each key, the latest (by event time) value
 * remembered within the retention window R, found with at most two point lookups whatever the traffic.
 *
 * <p>Layout: a window store whose "window start" is not the event time but the start of its time bucket
 * (multiples of R), holding per key and bucket the latest entry (its exact event time and value). Everything that
 * can still be seen lies in the last two buckets, so a lookup is a get in each; whole buckets expire with the
 * store's segments (retention 2R, one segment per bucket), and the changelog's compact+delete policy drops them
 * there too: nothing is scanned or deleted per record. The memory's clock (the latest event time remembered) lives
 * in a small changelogged store, so that what is visible after a restart is exactly what was visible before it.
 *
 * <p>Visibility is that of the event-time window stores this replaces (each entry stored at its event time, fetched
 * over ±R): an entry timed t is seen by a correction timed {@code at} when {@code at - R <= t <= at + R} and
 * {@code t > clock - R}. A bucket keeps only its latest entry, which gives the same answer as long as no
 * correction is older than the window (such corrections are refused as TOO_OLD before they get here).
 */
final class DedupMemory {
    /** The window store's retention, in buckets (of R each): what is visible lies in the last two. */
    static final int STORE_RETENTION_BUCKETS = 2;

    private final WindowStore<String, Entry> store;
    private final KeyValueStore<String, Long> clocks;
    private final String name;
    private final long retention;
    /** The latest event time remembered; Long.MIN_VALUE before the first. */
    private long clock;

    /** What is remembered for a key: its event time and a value (empty for correction ids). */
    record Entry(long at, String value) {
        static Serde<Entry> serde() {
            return Serdes.serdeFrom(
                    (topic, entry) -> {
                        if (entry == null) {
                            return null;
                        }
                        byte[] text = entry.value.getBytes(StandardCharsets.UTF_8);
                        return ByteBuffer.allocate(Long.BYTES + text.length).putLong(entry.at).put(text).array();
                    },
                    (topic, bytes) -> bytes == null ? null : new Entry(ByteBuffer.wrap(bytes).getLong(),
                            new String(bytes, Long.BYTES, bytes.length - Long.BYTES, StandardCharsets.UTF_8)));
        }
    }

    /**
     * @param store  the memory's window store (retention 2R, see {@link #STORE_RETENTION_BUCKETS})
     * @param clocks the store of the memories' clocks, keyed by memory name
     */
    DedupMemory(String name, WindowStore<String, Entry> store, KeyValueStore<String, Long> clocks,
                long retention) {
        this.name = name;
        this.store = store;
        this.clocks = clocks;
        this.retention = retention;
        Long stored = clocks.get(name);
        this.clock = stored == null ? Long.MIN_VALUE : stored;
    }

    /** The latest entry of the key that a correction timed {@code at} sees, or null. */
    Entry latest(String key, long at) {
        if (clock == Long.MIN_VALUE) {
            return null;
        }
        long from = Math.max(at - retention, clock - retention + 1);
        long to = Math.min(at + retention, clock);
        if (from > to) {
            return null;
        }
        Entry newest = store.fetch(key, bucket(to));
        if (newest != null && newest.at >= from && newest.at <= to) {
            return newest;
        }
        if (bucket(from) == bucket(to)) {
            return null;
        }
        Entry older = store.fetch(key, bucket(from));
        return older != null && older.at >= from && older.at <= to ? older : null;
    }

    /** Remembers the value for the key at event time {@code at} (unless a later entry is already there). */
    void remember(String key, long at, String value) {
        if (clock != Long.MIN_VALUE && at <= clock - retention) {
            return; // could never be seen again (the window stores this replaces dropped such writes as expired)
        }
        long bucket = bucket(at);
        if (at < clock) { // out of event-time order: a later entry may hold the bucket
            Entry there = store.fetch(key, bucket);
            if (there != null && there.at > at) {
                return;
            }
        }
        store.put(key, new Entry(at, value), bucket);
        if (at > clock) {
            clock = at;
            clocks.put(name, at);
        }
    }

    /**
     * Moves what a store in the earlier format holds (a window store keyed by event time, fetched over ±R) into
     * this memory, deleting it there: state written by an earlier version is kept across the upgrade.
     *
     * @return how many entries were moved
     */
    <V> long upgradeFrom(WindowStore<String, V> legacy, Function<V, String> valueOf) {
        long moved = 0;
        try (KeyValueIterator<Windowed<String>, V> all = legacy.all()) {
            while (all.hasNext()) {
                var entry = all.next();
                long at = entry.key.window().start();
                remember(entry.key.key(), at, valueOf.apply(entry.value));
                legacy.put(entry.key.key(), null, at);
                moved++;
            }
        }
        return moved;
    }

    private long bucket(long at) {
        return Math.floorDiv(at, retention) * retention;
    }
}

package io.editstream.checkpoint.objects;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where checkpoint objects live: a flat key space of immutable byte strings with two kinds of write, create-only (for
 * content-addressed blobs and first manifests, so two writers of one key cannot both win) and atomic replace (for a
 * manifest that never committed). Keys are built by the checkpoint store, never from user text, and every backend
 * refuses a key that could leave its root.
 */
public interface ObjectStore extends AutoCloseable {

    /** A key: '/'-separated segments of letters, digits, '.', '_' and '-', none of them '.' or '..'. */
    Pattern KEY = Pattern.compile("(?!.*(?:^|/)\\.{1,2}(?:/|$))[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*");

    /** An object as listed. */
    record StoredObject(String key, long size, Instant lastModified) {
    }

    /**
     * Writes {@code bytes} under {@code key} unless an object is already there, atomically: a reader sees nothing or
     * all of it, and of two concurrent writers exactly one returns true.
     *
     * @return true when this call created the object
     */
    boolean putIfAbsent(String key, byte[] bytes) throws IOException;

    /** Writes or replaces the object under {@code key} atomically. */
    void put(String key, byte[] bytes) throws IOException;

    /** The object's bytes, or empty when there is none. */
    Optional<byte[]> get(String key) throws IOException;

    /**
     * The object as a stream with its length, or empty when there is none: for objects too large to hold in one array
     * (a model-width float64 matrix is 800 MB). The caller closes it.
     */
    Optional<Reading> open(String key) throws IOException;

    /** An object being read: its length in bytes and its content. */
    record Reading(long length, InputStream content) implements Closeable {
        @Override
        public void close() throws IOException {
            content.close();
        }
    }

    /** Every object whose key starts with {@code prefix} (a whole segment path ending in '/'), in key order. */
    List<StoredObject> list(String prefix) throws IOException;

    /** Deletes the object if it exists. */
    void delete(String key) throws IOException;

    /** The URI a reader outside this process would use for the key ({@code file:///…}, {@code s3://bucket/…}). */
    String uri(String key);

    @Override
    void close() throws IOException;

    /** Refuses a key that is not made of safe segments; returns it otherwise. */
    static String checkKey(String key) {
        if (key == null || key.length() > 1024 || !KEY.matcher(key).matches()) {
            throw new IllegalArgumentException("not a safe object key: '" + key + "'");
        }
        return key;
    }

    /** Refuses a prefix that is not empty or a safe key followed by '/'. */
    static String checkPrefix(String prefix) {
        if (prefix.isEmpty()) {
            return prefix;
        }
        if (!prefix.endsWith("/")) {
            throw new IllegalArgumentException("a listing prefix ends with '/': '" + prefix + "'");
        }
        checkKey(prefix.substring(0, prefix.length() - 1));
        return prefix;
    }
}

package io.editstream.model;

import java.util.Arrays;
import java.util.List;

/**
 * Token id sequences of different lengths, run as one right-padded batch.
 *
 * <p>Row {@code r} holds {@code length(r)} real tokens at positions {@code 0..length(r)-1}; the positions after
 * them up to {@link #maxLength()} are padding that attention never reads.
 */
public final class TokenBatch {

    private final int[][] rows;

    private TokenBatch(int[][] rows) {
        if (rows.length == 0) {
            throw new IllegalArgumentException("a token batch needs at least one row");
        }
        for (int r = 0; r < rows.length; r++) {
            if (rows[r].length == 0) {
                throw new IllegalArgumentException("row " + r + " of the token batch is empty");
            }
        }
        this.rows = rows;
    }

    /** A batch of the given rows (copied). */
    public static TokenBatch of(int[]... rows) {
        int[][] copy = new int[rows.length][];
        for (int r = 0; r < rows.length; r++) {
            copy[r] = rows[r].clone();
        }
        return new TokenBatch(copy);
    }

    /** A batch of the given rows (copied). */
    public static TokenBatch of(List<int[]> rows) {
        return of(rows.toArray(new int[0][]));
    }

    /** Number of rows. */
    public int size() {
        return rows.length;
    }

    /** Real (unpadded) length of a row. */
    public int length(int row) {
        return rows[row].length;
    }

    /** Length of the longest row: the padded sequence length. */
    public int maxLength() {
        return Arrays.stream(rows).mapToInt(r -> r.length).max().orElseThrow();
    }

    /** The real tokens of a row (a copy). */
    public int[] row(int row) {
        return rows[row].clone();
    }

    /** Ids in row-major order {@code [size, maxLength]}, padded with {@code padId}. */
    public int[] paddedIds(int padId) {
        int width = maxLength();
        int[] ids = new int[rows.length * width];
        Arrays.fill(ids, padId);
        for (int r = 0; r < rows.length; r++) {
            System.arraycopy(rows[r], 0, ids, r * width, rows[r].length);
        }
        return ids;
    }

    /** Position of the last real token of each row. */
    public int[] lastPositions() {
        return Arrays.stream(rows).mapToInt(r -> r.length - 1).toArray();
    }
}

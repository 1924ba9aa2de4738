package dev.chorus.events;

import java.util.Arrays;

/**
 * A vector position: per origin hub, the last sequence number considered. Immutable; origins sorted
 * ascending so that encoding is canonical and lookups are binary searches.
 */
final class Position {

    static final Position EMPTY = new Position(new long[0], new long[0]);

    private final long[] origins;
    private final long[] seqs;

    private Position(long[] origins, long[] seqs) {
        this.origins = origins;
        this.seqs = seqs;
    }

    /** A position from sorted, distinct origins and their sequences; the arrays are taken, not copied. */
    static Position of(long[] sortedOrigins, long[] seqs) {
        return new Position(sortedOrigins, seqs);
    }

    int size() {
        return origins.length;
    }

    long origin(int index) {
        return origins[index];
    }

    long seq(int index) {
        return seqs[index];
    }

    boolean contains(long origin) {
        return Arrays.binarySearch(origins, origin) >= 0;
    }

    /** The sequence for {@code origin}, or 0 when it is absent (nothing of it considered). */
    long get(long origin) {
        int i = Arrays.binarySearch(origins, origin);
        return i >= 0 ? seqs[i] : 0;
    }

    /** This position with {@code origin} at {@code seq}. */
    Position with(long origin, long seq) {
        int i = Arrays.binarySearch(origins, origin);
        if (i >= 0) {
            if (seqs[i] == seq) {
                return this;
            }
            long[] s = seqs.clone();
            s[i] = seq;
            return new Position(origins, s);
        }
        int at = -i - 1;
        long[] o = new long[origins.length + 1];
        long[] s = new long[origins.length + 1];
        System.arraycopy(origins, 0, o, 0, at);
        System.arraycopy(seqs, 0, s, 0, at);
        o[at] = origin;
        s[at] = seq;
        System.arraycopy(origins, at, o, at + 1, origins.length - at);
        System.arraycopy(seqs, at, s, at + 1, seqs.length - at);
        return new Position(o, s);
    }

    /** This position without {@code origin}. */
    Position without(long origin) {
        int i = Arrays.binarySearch(origins, origin);
        if (i < 0) {
            return this;
        }
        long[] o = new long[origins.length - 1];
        long[] s = new long[origins.length - 1];
        System.arraycopy(origins, 0, o, 0, i);
        System.arraycopy(seqs, 0, s, 0, i);
        System.arraycopy(origins, i + 1, o, i, origins.length - i - 1);
        System.arraycopy(seqs, i + 1, s, i, seqs.length - i - 1);
        return new Position(o, s);
    }

    /** Whether this position is at or past {@code other} for every origin of {@code other}. */
    boolean covers(Position other) {
        for (int i = 0; i < other.origins.length; i++) {
            if (get(other.origins[i]) < other.seqs[i]) {
                return false;
            }
        }
        return true;
    }

    /** Whether this position is at or past {@code other} for every origin both name. */
    boolean coversShared(Position other) {
        for (int i = 0; i < other.origins.length; i++) {
            int j = Arrays.binarySearch(origins, other.origins[i]);
            if (j >= 0 && seqs[j] < other.seqs[i]) {
                return false;
            }
        }
        return true;
    }

    /** The per-origin maximum of both. */
    Position merge(Position other) {
        if (covers(other)) {
            return this;
        }
        if (other.covers(this)) {
            return other;
        }
        Position merged = this;
        for (int i = 0; i < other.origins.length; i++) {
            if (merged.get(other.origins[i]) < other.seqs[i]) {
                merged = merged.with(other.origins[i], other.seqs[i]);
            }
        }
        return merged;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Position that && Arrays.equals(origins, that.origins) && Arrays.equals(seqs, that.seqs);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(origins) * 31 + Arrays.hashCode(seqs);
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder("{");
        for (int i = 0; i < origins.length; i++) {
            text.append(i == 0 ? "" : ", ")
                    .append(Long.toHexString(origins[i]))
                    .append(':')
                    .append(seqs[i]);
        }
        return text.append('}').toString();
    }
}

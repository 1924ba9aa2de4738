package dev.chorus.internal;

import dev.chorus.wire.Envelope;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/*
 * Per origin, the last (epoch, sequence) seen on one topic. Sequence 0 means "unsequenced" and is never
 * tracked. Invariants:
 *  - an envelope is delivered only if its (epoch, sequence) is strictly after the last delivered one;
 *  - a jump of more than one within an epoch, a newer epoch, or a first envelope with sequence > 1 from an
 *    origin whose epoch began after this tracker did, is reported as possible loss before the envelope;
 *  - after rebase() (the caller already reported loss for every origin) the next envelope of each origin
 *    sets a new baseline without a second report.
 * Used by one delivery thread at a time; not thread-safe.
 */

/** Detects gaps, new epochs and duplicates in the envelopes of one topic subscription. */
public final class SequenceTracker {

    /** Clocks of two replicas may disagree by this much; a fresh origin's epoch is judged with it. */
    static final long CLOCK_SKEW_MILLIS = 5_000;

    private static final int MAX_ORIGINS = 4096;

    /** What to do with an envelope. */
    public enum Verdict {
        /** The next in sequence: deliver. */
        IN_ORDER,
        /** Deliver, after telling the subscriber that envelopes before it were lost. */
        GAP,
        /** Deliver, after telling the subscriber that its origin started a new epoch. */
        NEW_EPOCH,
        /** Already delivered, or from an older epoch: drop. */
        DUPLICATE
    }

    private static final class State {
        long epoch;
        long last;
        boolean rebased;

        State(long epoch, long last) {
            this.epoch = epoch;
            this.last = last;
        }
    }

    private final long startedMillis;
    private final Map<UUID, State> origins = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<UUID, State> eldest) {
            return size() > MAX_ORIGINS;
        }
    };
    private long lastGapFrom;
    private long lastGapTo;

    /** A tracker that starts now. */
    public SequenceTracker() {
        this(System.currentTimeMillis());
    }

    /** A tracker that started at {@code startedMillis} (wall clock), for tests. */
    public SequenceTracker(long startedMillis) {
        this.startedMillis = startedMillis;
    }

    /** Judges {@code envelope} and records it as seen unless it is a duplicate. */
    public Verdict observe(Envelope envelope) {
        if (envelope.sequence() == 0) {
            // Unsequenced: ordered by something outside the origin (a caller's commit); nothing to track.
            return Verdict.IN_ORDER;
        }
        UUID origin = envelope.origin().uuid();
        long epoch = envelope.epoch();
        long seq = envelope.sequence();
        State state = origins.get(origin);
        if (state == null) {
            origins.put(origin, new State(epoch, seq));
            if (seq > 1 && epoch > startedMillis + CLOCK_SKEW_MILLIS) {
                // The origin began after we did, so we should have seen its sequence from 1.
                lastGapFrom = 1;
                lastGapTo = seq - 1;
                return Verdict.GAP;
            }
            return Verdict.IN_ORDER;
        }
        if (epoch < state.epoch) {
            return Verdict.DUPLICATE;
        }
        if (epoch > state.epoch) {
            boolean rebased = state.rebased;
            state.epoch = epoch;
            state.last = seq;
            state.rebased = false;
            return rebased ? Verdict.IN_ORDER : Verdict.NEW_EPOCH;
        }
        if (state.rebased) {
            state.rebased = false;
            if (seq <= state.last) {
                return Verdict.DUPLICATE;
            }
            state.last = seq;
            return Verdict.IN_ORDER;
        }
        if (seq <= state.last) {
            return Verdict.DUPLICATE;
        }
        long expected = state.last + 1;
        state.last = seq;
        if (seq == expected) {
            return Verdict.IN_ORDER;
        }
        lastGapFrom = expected;
        lastGapTo = seq - 1;
        return Verdict.GAP;
    }

    /** The first missing sequence number of the last {@link Verdict#GAP}. */
    public long lastGapFrom() {
        return lastGapFrom;
    }

    /** The last missing sequence number of the last {@link Verdict#GAP}. */
    public long lastGapTo() {
        return lastGapTo;
    }

    /** Loss was already reported for every origin: accept each origin's next envelope as a new baseline. */
    public void rebase() {
        for (State state : origins.values()) {
            state.rebased = true;
        }
    }
}

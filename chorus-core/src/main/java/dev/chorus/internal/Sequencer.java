package dev.chorus.internal;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Hands out the outgoing sequence numbers of one backplane: per topic, from 1 without holes, in one
 * epoch. Not thread-safe: the backplane calls it under its publish lock, which also fixes the order in
 * which envelopes reach the transport.
 */
public final class Sequencer {

    private static final AtomicLong LAST_EPOCH = new AtomicLong();

    private final long epoch;
    private final Map<String, long[]> next = new HashMap<>();

    /**
     * A sequencer with a fresh epoch: the wall clock in milliseconds, forced above every epoch handed out
     * before in this JVM, so a backplane re-created with the same replica id still starts a new epoch.
     */
    public Sequencer() {
        long now = System.currentTimeMillis();
        this.epoch = LAST_EPOCH.updateAndGet(last -> Math.max(last + 1, now));
    }

    /** This sequencer's epoch. */
    public long epoch() {
        return epoch;
    }

    /** The next sequence number for {@code topic}. */
    public long next(String topic) {
        long[] counter = next.computeIfAbsent(topic, t -> new long[1]);
        return ++counter[0];
    }

    /** Gives back the number just taken for {@code topic}, when the envelope could not be sent at all. */
    public void undo(String topic) {
        long[] counter = next.get(topic);
        if (counter != null && counter[0] > 0) {
            counter[0]--;
        }
    }
}

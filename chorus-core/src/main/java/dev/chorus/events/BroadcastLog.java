package dev.chorus.events;

import org.jspecify.annotations.Nullable;

/*
 * The hub's broadcasts, appended once each (under the hub lock, in the hub's processing order) and read by
 * every sink's delivery thread at its own cursor, without any lock: a broadcast costs one append, not one
 * queue insert per sink.
 *
 * Broadcast i (0, 1, 2, …) lives in slot i mod length until broadcast i + length replaces it. A slot is an
 * immutable record carrying its index, stored before the volatile head is raised past it: a reader that
 * read the head and then finds the index it asked for has a fully built delivery; one that finds another
 * index was overtaken (the slot was reused while it read) and must look at the head again.
 *
 * A sink never needs more than its capacity of the newest broadcasts (older ones it has lost by the
 * overflow policy), so twice the capacity leaves a reader a capacity's worth of appends to finish a read.
 */

/** The shared ring of a hub's recent broadcasts, read by each sink at its own cursor. */
final class BroadcastLog {

    private record Slot(long index, Delivery delivery) {}

    private final Slot[] slots;
    private final int mask;
    private volatile long head;

    /** A log that keeps at least twice {@code capacity} broadcasts. */
    BroadcastLog(int capacity) {
        int length = Integer.highestOneBit(Math.max(8, capacity) * 2 - 1) << 1;
        if (length <= 0) {
            throw new IllegalArgumentException("capacity too large for a broadcast log: " + capacity);
        }
        this.slots = new Slot[length];
        this.mask = length - 1;
    }

    /** Appends the next broadcast; single writer (hub lock held). */
    void append(Delivery delivery) {
        long index = head;
        slots[(int) (index & mask)] = new Slot(index, delivery);
        head = index + 1;
    }

    /** The number of broadcasts appended so far, which is also the index of the next one. */
    long head() {
        return head;
    }

    /** Broadcast {@code index} (below {@link #head}), or null if it was overwritten. */
    @Nullable
    Delivery get(long index) {
        Slot slot = slots[(int) (index & mask)];
        return slot != null && slot.index == index ? slot.delivery : null;
    }

    /** How many broadcasts the log keeps. */
    int length() {
        return slots.length;
    }
}

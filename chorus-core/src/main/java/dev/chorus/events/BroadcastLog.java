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
 *
 * Bytes: the log also keeps at most maxBytes of event data (the newest broadcast always stays). Past it,
 * the oldest broadcasts lose their event and keep only their id and size (a husk): get() answers null for
 * them, as for an overwritten slot, and tail() rises past them. A sink whose cursor is below the tail has
 * lost them and owes its client a reload (SinkBacklog), with the id the husk kept. Each slot carries the
 * running total of bytes appended up to and including it, so a sink's pending bytes are one subtraction.
 */

/** The shared ring of a hub's recent broadcasts, read by each sink at its own cursor. */
final class BroadcastLog {

    /**
     * Broadcast {@code index}: its id, its delivery (null once evicted for bytes), its data size and the
     * running total of data bytes appended through it.
     */
    private record Slot(long index, String id, @Nullable Delivery delivery, int size, long end) {}

    private final Slot[] slots;
    private final int mask;
    private final long maxBytes;
    private volatile long head;
    private volatile long tail;
    /** Data bytes appended so far (writer only). */
    private long appended;

    /** A log that keeps at least twice {@code capacity} broadcasts, with no byte bound. */
    BroadcastLog(int capacity) {
        this(capacity, Long.MAX_VALUE);
    }

    /** A log that keeps at least twice {@code capacity} broadcasts, and at most {@code maxBytes} of their data. */
    BroadcastLog(int capacity, long maxBytes) {
        int length = Integer.highestOneBit(Math.max(8, capacity) * 2 - 1) << 1;
        if (length <= 0) {
            throw new IllegalArgumentException("capacity too large for a broadcast log: " + capacity);
        }
        this.slots = new Slot[length];
        this.mask = length - 1;
        this.maxBytes = maxBytes;
    }

    /** Appends the next broadcast; single writer (hub lock held). */
    void append(Delivery delivery) {
        long index = head;
        int size = delivery.event().size();
        appended += size;
        slots[(int) (index & mask)] = new Slot(index, delivery.id(), delivery, size, appended);
        head = index + 1;
        long oldest = Math.max(tail, index + 1 - slots.length);
        while (oldest < index) {
            Slot slot = slots[(int) (oldest & mask)];
            if (appended - (slot.end - slot.size) <= maxBytes) {
                break;
            }
            slots[(int) (oldest & mask)] = new Slot(oldest, slot.id, null, slot.size, slot.end);
            oldest++;
        }
        tail = oldest;
    }

    /** The number of broadcasts appended so far, which is also the index of the next one. */
    long head() {
        return head;
    }

    /**
     * The oldest broadcast whose event the log still holds (or the ring's oldest slot): below it {@link
     * #get} answers null.
     */
    long tail() {
        return tail;
    }

    /** Broadcast {@code index} (below {@link #head}), or null if it was overwritten or evicted for bytes. */
    @Nullable
    Delivery get(long index) {
        Slot slot = slots[(int) (index & mask)];
        return slot != null && slot.index == index ? slot.delivery : null;
    }

    /** The id of broadcast {@code index}, kept after its event was evicted for bytes; null once overwritten. */
    @Nullable
    String id(long index) {
        Slot slot = slots[(int) (index & mask)];
        return slot != null && slot.index == index ? slot.id : null;
    }

    /**
     * Data bytes of broadcasts {@code from} to {@code to} (exclusive, {@code to <= head}), or -1 when the
     * slot of {@code from} or {@code to - 1} was overwritten meanwhile.
     */
    long bytes(long from, long to) {
        if (from >= to) {
            return 0;
        }
        Slot first = slots[(int) (from & mask)];
        Slot last = slots[(int) ((to - 1) & mask)];
        if (first == null || last == null || first.index != from || last.index != to - 1) {
            return -1;
        }
        return last.end - (first.end - first.size);
    }

    /** How many broadcasts the log keeps. */
    int length() {
        return slots.length;
    }
}

package dev.chorus.internal;

import dev.chorus.ChorusConfig;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToIntFunction;
import org.jspecify.annotations.Nullable;

/*
 * A transport's queue of encoded envelopes waiting to be sent, bounded by count and by bytes. Items count
 * their bytes in on offer and out when taken, by any of the taking methods below. The byte budget is
 * reserved before the item is queued, so concurrent offers never overshoot it; an empty queue always
 * accepts one item (an envelope is at most the envelope limit, which the byte bound should exceed).
 */

/** A transport's send queue, bounded in envelopes and in bytes ({@value ChorusConfig#SEND_QUEUE_BYTES}). */
public final class SendQueue<T> {

    private final LinkedBlockingQueue<T> queue;
    private final int capacity;
    private final long maxBytes;
    private final ToIntFunction<T> weigher;
    private final AtomicLong bytes = new AtomicLong();

    /**
     * @param capacity items queued at most
     * @param maxBytes bytes queued at most, by {@code weigher}
     * @param weigher the bytes an item holds
     */
    public SendQueue(int capacity, long maxBytes, ToIntFunction<T> weigher) {
        this.queue = new LinkedBlockingQueue<>(capacity);
        this.capacity = capacity;
        this.maxBytes = Checks.positive("send queue bytes", maxBytes);
        this.weigher = weigher;
    }

    /** Queues {@code item}, or returns false when the queue is full by count or by bytes. */
    public boolean offer(T item) {
        long weight = weigher.applyAsInt(item);
        long before = bytes.getAndAdd(weight);
        if (weight > 0 && before > 0 && before + weight > maxBytes) {
            bytes.addAndGet(-weight);
            return false;
        }
        if (!queue.offer(item)) {
            bytes.addAndGet(-weight);
            return false;
        }
        return true;
    }

    /** Whether the last refused offer of {@code bytes} would be refused for bytes (not for the count). */
    public boolean fullByBytes(int itemBytes) {
        long queued = bytes.get();
        return queued > 0 && queued + itemBytes > maxBytes;
    }

    /**
     * Why an offer of {@code itemBytes} was refused, for the exception: the count or the byte bound, with
     * the setting that raises it.
     */
    public String refusal(int itemBytes) {
        if (fullByBytes(itemBytes)) {
            return queue.size() + " envelopes of " + bytes.get() + " bytes are waiting; an envelope of " + itemBytes
                    + " bytes would pass the bound of " + maxBytes + " bytes (" + ChorusConfig.SEND_QUEUE_BYTES + ")";
        }
        return queue.size() + " envelopes are waiting, the bound of " + capacity + " envelopes";
    }

    /** The head, or null when empty. */
    public @Nullable T poll() {
        return taken(queue.poll());
    }

    /** The head, waiting up to {@code timeout}; null when none came. */
    public @Nullable T poll(long timeout, TimeUnit unit) throws InterruptedException {
        return taken(queue.poll(timeout, unit));
    }

    /** The head without taking it, or null. */
    public @Nullable T peek() {
        return queue.peek();
    }

    /** Moves everything queued to {@code into}; returns how many. */
    public int drainTo(Collection<? super T> into) {
        return drainTo(into, Integer.MAX_VALUE);
    }

    /** Moves up to {@code max} items to {@code into}; returns how many. */
    public int drainTo(Collection<? super T> into, int max) {
        List<T> moved = new ArrayList<>();
        int n = queue.drainTo(moved, max);
        long weight = 0;
        for (T item : moved) {
            weight += weigher.applyAsInt(item);
        }
        bytes.addAndGet(-weight);
        into.addAll(moved);
        return n;
    }

    /** Items queued. */
    public int size() {
        return queue.size();
    }

    /** Bytes queued. */
    public long bytes() {
        return bytes.get();
    }

    /** The byte bound. */
    public long maxBytes() {
        return maxBytes;
    }

    /** Whether nothing is queued. */
    public boolean isEmpty() {
        return queue.isEmpty();
    }

    private @Nullable T taken(@Nullable T item) {
        if (item != null) {
            bytes.addAndGet(-weigher.applyAsInt(item));
        }
        return item;
    }
}

package dev.chorus.bench;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/*
 * A delivery count that one thread can wait on without a lock.
 *
 * Receivers only increment. The single waiting thread first spins briefly (most in-process round trips
 * finish within that, and parking plus unparking would add its own microseconds to what we measure), then
 * announces itself in `waiter` and the count it needs in `wakeAt`, re-reads the count and only then parks.
 * Every field involved is volatile, so either the receiver sees the raised wakeAt and unparks the waiter,
 * or the waiter sees the new count and does not park: a wakeup cannot be lost. Receivers unpark only once
 * the count reaches wakeAt, so a burst of deliveries costs one volatile read each, not one unpark each.
 */

/** How many deliveries one receiver has had, with a lock-free wait for a given count. */
final class DeliveryCounter {

    private static final long SPIN_NANOS = 20_000;

    private final AtomicLong count = new AtomicLong();
    private volatile long wakeAt = Long.MAX_VALUE;
    private volatile @Nullable Thread waiter;

    /** One more delivery; called by the receiving thread only. */
    void increment() {
        long now = count.incrementAndGet();
        if (now >= wakeAt) {
            Thread thread = waiter;
            if (thread != null) {
                LockSupport.unpark(thread);
            }
        }
    }

    /** Deliveries so far. */
    long get() {
        return count.get();
    }

    /**
     * Waits until at least {@code target} deliveries were counted or {@code System.nanoTime()} passes
     * {@code deadlineNanos}; returns whether the target was reached. One waiting thread at a time.
     */
    boolean awaitAtLeast(long target, long deadlineNanos) {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (count.get() < target) {
            if (System.nanoTime() - spinUntil >= 0) {
                return park(target, deadlineNanos);
            }
            Thread.onSpinWait();
        }
        return true;
    }

    private boolean park(long target, long deadlineNanos) {
        waiter = Thread.currentThread();
        wakeAt = target;
        try {
            while (count.get() < target) {
                long remaining = deadlineNanos - System.nanoTime();
                if (remaining <= 0) {
                    return false;
                }
                LockSupport.parkNanos(this, remaining);
            }
            return true;
        } finally {
            wakeAt = Long.MAX_VALUE;
            waiter = null;
        }
    }
}

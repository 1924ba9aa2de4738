package dev.chorus.internal;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** The transports' backoff wait: a pause between attempts that ends early when the component closes. */
public final class Pause {

    private Pause() {}

    /**
     * Waits {@code delay} unless {@code closed} counts down first; false when it did, or when the thread was
     * interrupted (the interrupt is kept), so a retry loop stops.
     */
    public static boolean unlessClosed(CountDownLatch closed, Duration delay) {
        try {
            return !closed.await(delay.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}

package dev.chorus;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongUnaryOperator;

/**
 * Retry timing: exponential growth with full jitter ("Exponential Backoff And Jitter", AWS Architecture
 * Blog, 2015).
 *
 * <p>The n-th retry (counting from 0) waits a uniformly random time in {@code [0, min(cap, first * 2^n)]}.
 * Full jitter spreads a fleet of replicas that all lost the same server at the same instant, so they do
 * not reconnect in lock step and knock it over again. Instances are immutable; the attempt count lives
 * with the caller, usually in a {@link Attempts}.
 *
 * @param first upper bound of the first delay
 * @param cap upper bound of every delay
 */
public record Backoff(Duration first, Duration cap) {

    /** Default upper bound of the first delay. */
    public static final Duration DEFAULT_FIRST = Duration.ofSeconds(1);

    /** Default cap on every delay. */
    public static final Duration DEFAULT_CAP = Duration.ofSeconds(30);

    /** Validates that both bounds are positive and the first does not exceed the cap. */
    public Backoff {
        Objects.requireNonNull(first, "first");
        Objects.requireNonNull(cap, "cap");
        if (first.isNegative() || first.isZero()) {
            throw new ChorusException("Backoff first delay must be positive, was " + first + " (for example 1s)");
        }
        if (cap.compareTo(first) < 0) {
            throw new ChorusException("Backoff cap " + cap + " is shorter than the first delay " + first
                    + ": use a cap at least as long (for example first 1s, cap 30s)");
        }
    }

    /** The default: 1 s first, capped at 30 s. */
    public static Backoff defaults() {
        return new Backoff(DEFAULT_FIRST, DEFAULT_CAP);
    }

    /** The largest delay attempt {@code n} (from 0) may wait: {@code min(cap, first * 2^n)}. */
    public Duration ceiling(int attempt) {
        if (attempt < 0) {
            throw new IllegalArgumentException("attempt must be >= 0, was " + attempt);
        }
        long firstNanos = first.toNanos();
        long capNanos = cap.toNanos();
        // Past 62 doublings any positive first overflows a long; the cap has long been reached by then.
        if (attempt >= 62 || firstNanos > (capNanos >> attempt)) {
            return cap;
        }
        return Duration.ofNanos(Math.min(capNanos, firstNanos << attempt));
    }

    /** A full-jitter delay for attempt {@code n} (from 0), drawn from a thread-local random source. */
    public Duration delay(int attempt) {
        return delay(attempt, bound -> ThreadLocalRandom.current().nextLong(bound + 1));
    }

    /**
     * A full-jitter delay for attempt {@code n}, drawing from {@code random}, which maps an inclusive upper
     * bound in nanoseconds to a value in {@code [0, bound]}; tests pass a deterministic one.
     */
    public Duration delay(int attempt, LongUnaryOperator random) {
        long bound = ceiling(attempt).toNanos();
        long drawn = random.applyAsLong(bound);
        return Duration.ofNanos(Math.max(0, Math.min(bound, drawn)));
    }

    /** A fresh attempt counter that starts at attempt 0. */
    public Attempts attempts() {
        return new Attempts(this);
    }

    /** A mutable attempt counter for one retry loop; not thread-safe, owned by that loop. */
    public static final class Attempts {
        private final Backoff backoff;
        private int attempt;

        private Attempts(Backoff backoff) {
            this.backoff = backoff;
        }

        /** The delay before the next try; each call advances the attempt count. */
        public Duration next() {
            Duration delay = backoff.delay(attempt);
            if (attempt < Integer.MAX_VALUE) {
                attempt++;
            }
            return delay;
        }

        /** How many delays have been handed out since the last success. */
        public int count() {
            return attempt;
        }

        /** Starts again from the first delay, after a success. */
        public void reset() {
            attempt = 0;
        }
    }
}

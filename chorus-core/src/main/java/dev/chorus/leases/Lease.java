package dev.chorus.leases;

import dev.chorus.ReplicaId;
import java.time.Duration;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * A lease this replica holds: a key, a fencing token and a local deadline.
 *
 * <p>The deadline is measured on this replica's monotonic clock from the moment the acquire or renew
 * request was <em>sent</em>, so it always ends no later than the store's expiry: a replica never believes
 * it holds a lease the store has already given up. Every action taken under a lease should carry its
 * {@link #token()}; whoever checks it refuses tokens older than the newest it has seen.
 */
public final class Lease {

    private final String key;
    private final ReplicaId holder;
    private final long token;
    private final Duration ttl;
    private final long deadlineNanos;
    private final LongSupplier nanoTime;

    /**
     * @param key the leased key
     * @param holder this replica
     * @param token the fencing token, greater than every token issued for any key before
     * @param ttl the time to live requested
     * @param deadlineNanos when the lease ends, on {@code nanoTime}'s scale
     * @param nanoTime the monotonic clock the deadline is measured on
     */
    public Lease(String key, ReplicaId holder, long token, Duration ttl, long deadlineNanos, LongSupplier nanoTime) {
        this.key = Objects.requireNonNull(key, "key");
        this.holder = Objects.requireNonNull(holder, "holder");
        this.token = token;
        this.ttl = Objects.requireNonNull(ttl, "ttl");
        this.deadlineNanos = deadlineNanos;
        this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
    }

    /** The leased key. */
    public String key() {
        return key;
    }

    /** The replica holding it. */
    public ReplicaId holder() {
        return holder;
    }

    /** The fencing token. */
    public long token() {
        return token;
    }

    /** The time to live that was requested. */
    public Duration ttl() {
        return ttl;
    }

    /** The deadline on the monotonic clock this lease was built with. */
    public long deadlineNanos() {
        return deadlineNanos;
    }

    /** Time left before the local deadline; zero or negative once it passed. */
    public Duration remaining() {
        return Duration.ofNanos(deadlineNanos - nanoTime.getAsLong());
    }

    /** Whether the local deadline has not passed. Stop acting under the lease the moment this is false. */
    public boolean isValid() {
        return deadlineNanos - nanoTime.getAsLong() > 0;
    }

    @Override
    public String toString() {
        return "Lease{" + key + " token=" + token + " holder=" + holder.shortForm() + " remaining="
                + remaining().toMillis() + "ms}";
    }
}

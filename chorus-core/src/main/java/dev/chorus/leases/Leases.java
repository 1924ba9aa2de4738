package dev.chorus.leases;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Exclusive, expiring ownership of keys with fencing tokens.
 *
 * <p>Every successful {@link #tryAcquire} of a free key and every {@link #claim} issues a token greater
 * than any token issued before by this store, for any key, so "newer owner" and "larger token" mean the
 * same thing. A renewal keeps the token. All methods are atomic in the store.
 */
public interface Leases extends AutoCloseable {

    /**
     * Takes {@code key} if nobody holds it (or the holder's lease expired); completes empty when another
     * replica holds it. Re-acquiring a key this replica already holds renews it and keeps its token.
     */
    CompletableFuture<Optional<Lease>> tryAcquire(String key, Duration ttl);

    /**
     * Takes {@code key} whoever holds it, with a new, larger token: a client that reconnected elsewhere
     * moves its session here. The previous holder's renewals fail with {@link LeaseLostException}.
     */
    CompletableFuture<Lease> claim(String key, Duration ttl);

    /** Extends a held lease; fails with {@link LeaseLostException} if it expired or was taken over. */
    CompletableFuture<Lease> renew(Lease lease);

    /** Gives the lease up if it is still held with this token; otherwise does nothing. */
    CompletableFuture<Void> release(Lease lease);

    /** Who holds {@code key} now, if anyone holds an unexpired lease on it. */
    CompletableFuture<Optional<LeaseOwner>> owner(String key);

    /** Stops background work; leases held stay until released or expired. Idempotent. */
    @Override
    void close();
}

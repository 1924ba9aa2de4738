package dev.chorus.leases;

import dev.chorus.ChorusException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
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

    /**
     * Claims every key of {@code keys} as {@link #claim} claims one, in one round trip to the store per call
     * (one statement on PostgreSQL, one script on Redis): a replica that a thousand clients reconnect to takes
     * their sessions over in a few round trips instead of a thousand. Completes with the leases in the order
     * of {@code keys}, each with its own new token; fails as a whole if the store fails. The keys must be
     * distinct; at most {@link #MAX_BATCH} of them.
     *
     * <p>This default claims the keys one by one, concurrently; the stores of this library override it.
     */
    default CompletableFuture<List<Lease>> claimAll(List<String> keys, Duration ttl) {
        try {
            checkBatch(keys);
        } catch (ChorusException e) {
            return CompletableFuture.failedFuture(e);
        }
        List<CompletableFuture<Lease>> claims = new ArrayList<>(keys.size());
        for (String key : keys) {
            claims.add(claim(key, ttl));
        }
        return CompletableFuture.allOf(claims.toArray(CompletableFuture[]::new))
                .thenApply(done -> claims.stream().map(CompletableFuture::join).toList());
    }

    /**
     * Renews every lease of {@code leases} as {@link #renew} renews one, in one round trip to the store per call:
     * a replica holding a thousand sessions renews them in a few statements instead of a thousand. Completes
     * with one entry per lease, in order: the renewed lease, or empty where it was lost (expired, released or
     * taken over; {@link #renew} of that lease says why). Fails as a whole only if the store fails. The keys
     * must be distinct; at most {@link #MAX_BATCH} leases, all held by this replica.
     *
     * <p>This default renews the leases one by one, concurrently; the stores of this library override it.
     */
    default CompletableFuture<List<Optional<Lease>>> renewAll(List<Lease> leases) {
        try {
            checkBatch(leases.stream().map(Lease::key).toList());
        } catch (ChorusException e) {
            return CompletableFuture.failedFuture(e);
        }
        List<CompletableFuture<Optional<Lease>>> renewals = new ArrayList<>(leases.size());
        for (Lease lease : leases) {
            renewals.add(renew(lease).handle((renewed, error) -> {
                Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                        ? error.getCause()
                        : error;
                if (cause == null) {
                    return Optional.of(renewed);
                }
                if (cause instanceof LeaseLostException) {
                    return Optional.<Lease>empty();
                }
                throw new java.util.concurrent.CompletionException(cause);
            }));
        }
        return CompletableFuture.allOf(renewals.toArray(CompletableFuture[]::new))
                .thenApply(
                        done -> renewals.stream().map(CompletableFuture::join).toList());
    }

    /** The most keys one {@link #claimAll} or {@link #renewAll} takes. */
    int MAX_BATCH = 1_000;

    /**
     * {@code keys} if one {@link #claimAll} may take them: 1 to {@link #MAX_BATCH} distinct keys; otherwise a
     * {@link ChorusException} naming the problem.
     */
    static List<String> checkBatch(List<String> keys) {
        if (keys.isEmpty() || keys.size() > MAX_BATCH) {
            throw new ChorusException(
                    "claimAll takes 1 to " + MAX_BATCH + " keys, was given " + keys.size() + "; split larger batches");
        }
        if (new HashSet<>(keys).size() != keys.size()) {
            throw new ChorusException(
                    "claimAll was given the same key twice in " + keys.size() + " keys; claim each key once per batch");
        }
        return keys;
    }

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

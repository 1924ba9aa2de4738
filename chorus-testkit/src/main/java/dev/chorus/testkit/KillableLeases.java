package dev.chorus.testkit;

import dev.chorus.leases.Lease;
import dev.chorus.leases.LeaseOwner;
import dev.chorus.leases.LeaseStoreException;
import dev.chorus.leases.Leases;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * A replica's real lease store that can be made to fall silent, as it does for a replica killed with {@code
 * kill -9}: after {@link #kill()} every call fails without reaching the store, so the replica's leases stop
 * being renewed and expire by the store's own clock. The store itself is untouched (not a mock): other
 * replicas keep using it.
 */
public final class KillableLeases implements Leases {

    private final Leases store;
    private volatile boolean killed;

    /** Wraps {@code store}, the leases of one replica. */
    public KillableLeases(Leases store) {
        this.store = store;
    }

    /** From now on no call of this replica reaches the store. */
    public void kill() {
        killed = true;
    }

    @Override
    public CompletableFuture<Optional<Lease>> tryAcquire(String key, Duration ttl) {
        return call(key, () -> store.tryAcquire(key, ttl));
    }

    @Override
    public CompletableFuture<Lease> claim(String key, Duration ttl) {
        return call(key, () -> store.claim(key, ttl));
    }

    @Override
    public CompletableFuture<List<Lease>> claimAll(List<String> keys, Duration ttl) {
        return call(keys.isEmpty() ? "" : keys.getFirst(), () -> store.claimAll(keys, ttl));
    }

    @Override
    public CompletableFuture<Lease> renew(Lease lease) {
        return call(lease.key(), () -> store.renew(lease));
    }

    @Override
    public CompletableFuture<Void> release(Lease lease) {
        return call(lease.key(), () -> store.release(lease));
    }

    @Override
    public CompletableFuture<Optional<LeaseOwner>> owner(String key) {
        return call(key, () -> store.owner(key));
    }

    @Override
    public void close() {
        store.close();
    }

    private <T> CompletableFuture<T> call(String key, Supplier<CompletableFuture<T>> body) {
        if (killed) {
            return CompletableFuture.failedFuture(new LeaseStoreException(
                    "lease call", key, "the replica was killed (test)", new java.io.IOException("killed")));
        }
        return body.get();
    }
}

package dev.chorus.local;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.internal.LeaseCalls;
import dev.chorus.leases.Lease;
import dev.chorus.leases.LeaseOwner;
import dev.chorus.leases.Leases;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/** One replica's access to a {@link LocalCluster}'s lease table. */
final class LocalLeases implements Leases {

    private final LocalLeaseStore store;
    private final ReplicaId self;

    LocalLeases(LocalLeaseStore store, ReplicaId self) {
        this.store = store;
        this.self = self;
    }

    @Override
    public CompletableFuture<Optional<Lease>> tryAcquire(String key, Duration ttl) {
        return run(() -> store.tryAcquire(LeaseCalls.checkKey(key), self, LeaseCalls.checkTtl(ttl)));
    }

    @Override
    public CompletableFuture<Lease> claim(String key, Duration ttl) {
        return run(() -> store.claim(LeaseCalls.checkKey(key), self, LeaseCalls.checkTtl(ttl)));
    }

    @Override
    public CompletableFuture<List<Lease>> claimAll(List<String> keys, Duration ttl) {
        return run(() -> {
            Leases.checkBatch(keys).forEach(LeaseCalls::checkKey);
            return store.claimAll(keys, self, LeaseCalls.checkTtl(ttl));
        });
    }

    @Override
    public CompletableFuture<List<Optional<Lease>>> renewAll(List<Lease> leases) {
        return run(() -> {
            Leases.checkBatch(leases.stream().map(Lease::key).toList());
            leases.forEach(this::ownLease);
            return store.renewAll(leases);
        });
    }

    @Override
    public CompletableFuture<Lease> renew(Lease lease) {
        return run(() -> store.renew(ownLease(lease)));
    }

    @Override
    public CompletableFuture<Void> release(Lease lease) {
        return run(() -> {
            store.release(ownLease(lease));
            return null;
        });
    }

    @Override
    public CompletableFuture<Optional<LeaseOwner>> owner(String key) {
        return run(() -> store.owner(LeaseCalls.checkKey(key)));
    }

    @Override
    public void close() {
        // Nothing runs in the background.
    }

    private Lease ownLease(Lease lease) {
        Objects.requireNonNull(lease, "lease");
        if (!lease.holder().equals(self)) {
            throw new ChorusException(
                    "Lease on '" + lease.key() + "' belongs to " + lease.holder() + ", not to this replica " + self);
        }
        return lease;
    }

    private static <T> CompletableFuture<T> run(Supplier<T> step) {
        try {
            return CompletableFuture.completedFuture(step.get());
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }
}

package dev.chorus.internal;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.leases.Lease;
import dev.chorus.leases.Leases;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The store-independent half of a remote {@link dev.chorus.leases.Leases}: argument checks, the executor the
 * store's calls run on, and closing. A bad argument or a closed store fails the returned future, never throws.
 */
public final class LeaseCalls implements AutoCloseable {

    /** The longest key accepted, in characters. */
    public static final int MAX_KEY_LENGTH = 512;
    /** The longest time to live accepted. */
    public static final Duration MAX_TTL = Duration.ofDays(365);

    private final ReplicaId self;
    private final Executor executor;
    private final @Nullable ExecutorService ownExecutor;
    private final Consumer<String> storeKeyCheck;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Calls for {@code self} on {@code executor}, or on a new virtual thread per call (named {@code chorus-leases-N},
     * shut down by {@link #close()}) if null. {@code storeKeyCheck} adds the store's own rules for keys, throwing a
     * {@link ChorusException}.
     */
    public LeaseCalls(ReplicaId self, @Nullable Executor executor, Consumer<String> storeKeyCheck) {
        this.self = self;
        this.storeKeyCheck = storeKeyCheck;
        if (executor != null) {
            this.executor = executor;
            this.ownExecutor = null;
        } else {
            ExecutorService virtual = Executors.newThreadPerTaskExecutor(
                    Thread.ofVirtual().name("chorus-leases-", 0).factory());
            this.executor = virtual;
            this.ownExecutor = virtual;
        }
    }

    /** The executor calls run on, for the store's own background work. */
    public Executor executor() {
        return executor;
    }

    /** Runs {@code body} for {@code operation} on {@code lease}, after checking this replica holds it. */
    public <T> CompletableFuture<T> submit(String operation, Lease lease, Supplier<T> body) {
        Objects.requireNonNull(lease, "lease");
        if (!lease.holder().equals(self)) {
            return CompletableFuture.failedFuture(new ChorusException(
                    "Lease on '" + lease.key() + "' belongs to " + lease.holder() + ", not to this replica " + self));
        }
        return submit(operation, lease.key(), lease.ttl(), body);
    }

    /** Runs {@code body} for {@code operation} on {@code key}, after checking the key and the ttl if any. */
    public <T> CompletableFuture<T> submit(String operation, String key, @Nullable Duration ttl, Supplier<T> body) {
        try {
            checkKey(key);
            storeKeyCheck.accept(key);
            if (ttl != null) {
                checkTtl(ttl);
            }
            if (closed.get()) {
                throw new ChorusException(
                        "Leases of " + self.shortForm() + " are closed; cannot " + operation + " '" + key + "'");
            }
            return CompletableFuture.supplyAsync(body, executor);
        } catch (ChorusException e) {
            return CompletableFuture.failedFuture(e);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(
                    new ChorusException("Leases of " + self.shortForm() + " are closed; cannot " + operation, e));
        }
    }

    /** Runs {@code body} for a batch {@code operation} on {@code keys}, after checking the batch, every key and the ttl. */
    public <T> CompletableFuture<T> submitAll(String operation, List<String> keys, Duration ttl, Supplier<T> body) {
        try {
            for (String key : Leases.checkBatch(keys)) {
                checkKey(key);
                storeKeyCheck.accept(key);
            }
            return submit(operation, keys.getFirst(), ttl, body);
        } catch (ChorusException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Runs {@code body} for a batch {@code operation} on {@code leases}, after checking the batch and that this replica holds each. */
    public <T> CompletableFuture<T> submitAll(String operation, List<Lease> leases, Supplier<T> body) {
        try {
            for (Lease lease : leases) {
                if (!lease.holder().equals(self)) {
                    throw new ChorusException("Lease on '" + lease.key() + "' belongs to " + lease.holder()
                            + ", not to this replica " + self);
                }
                checkTtl(lease.ttl());
            }
            return submitAll(
                    operation,
                    leases.stream().map(Lease::key).toList(),
                    leases.isEmpty() ? Duration.ofSeconds(1) : leases.getFirst().ttl(),
                    body);
        } catch (ChorusException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Refuses further calls and shuts down the executor if it is our own. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && ownExecutor != null) {
            ownExecutor.shutdown();
        }
    }

    /** {@code key} if it is a valid lease key (1 to {@value #MAX_KEY_LENGTH} characters). */
    public static String checkKey(String key) {
        Objects.requireNonNull(key, "key");
        if (key.isEmpty() || key.length() > MAX_KEY_LENGTH) {
            throw new ChorusException("Lease key must be 1 to " + MAX_KEY_LENGTH + " characters, was " + key.length());
        }
        return key;
    }

    /** {@code ttl} if it is a valid lease time to live (positive, at most {@link #MAX_TTL}). */
    public static Duration checkTtl(Duration ttl) {
        Objects.requireNonNull(ttl, "ttl");
        if (ttl.isNegative() || ttl.isZero()) {
            throw new ChorusException("Lease ttl must be positive, was " + ttl + " (for example 10s)");
        }
        if (ttl.compareTo(MAX_TTL) > 0) {
            throw new ChorusException("Lease ttl must be at most 365 days, was " + ttl + " (for example 10s)");
        }
        return ttl;
    }
}

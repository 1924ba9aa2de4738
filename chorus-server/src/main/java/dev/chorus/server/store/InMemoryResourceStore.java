package dev.chorus.server.store;

import dev.chorus.health.Health;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * Resources in this JVM's memory, for a single replica or tests: lost on restart, never shared.
 *
 * <p>Each write is atomic per key. A deleted key keeps its last version as a tombstone, so a re-created resource
 * continues from it and an entity tag never names two different bodies; tombstones are never purged, which is fine
 * for the sizes this store is meant for. Bodies are copied in and out, so callers cannot change stored bytes.
 * There is no transaction, so {@link TransactionHook}s are never called.
 */
public final class InMemoryResourceStore implements ResourceStore {

    /** What a key holds: its last version, and the resource, or null once deleted (a tombstone). */
    private record Slot(long version, @Nullable Resource resource) {}

    private final ConcurrentHashMap<ResourceKey, Slot> slots = new ConcurrentHashMap<>();
    private final LongAdder present = new LongAdder();

    /** An empty store. */
    public InMemoryResourceStore() {}

    @Override
    public String kind() {
        return "memory";
    }

    @Override
    public boolean transactional() {
        return false;
    }

    @Override
    public Optional<Resource> get(ResourceKey key) {
        Objects.requireNonNull(key, "key");
        Slot slot = slots.get(key);
        return slot == null || slot.resource() == null ? Optional.empty() : Optional.of(copy(slot.resource()));
    }

    @Override
    public Resource put(ResourceKey key, byte[] body, Precondition precondition, TransactionHook hook) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(body, "body");
        Objects.requireNonNull(precondition, "precondition");
        Objects.requireNonNull(hook, "hook");
        byte[] stored = body.clone();
        // compute runs exactly once under the key's lock; an exception leaves the mapping as it was.
        Slot slot = slots.compute(key, (k, old) -> {
            Resource current = old == null ? null : old.resource();
            Preconditions.check(key, precondition, current == null ? null : copy(current));
            long version = old == null ? 1 : old.version() + 1;
            if (current == null) {
                present.increment();
            }
            return new Slot(version, new Resource(key, version, stored, Instant.now()));
        });
        return copy(Objects.requireNonNull(slot.resource()));
    }

    @Override
    public Optional<Resource> delete(ResourceKey key, Precondition precondition, TransactionHook hook) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(precondition, "precondition");
        Objects.requireNonNull(hook, "hook");
        AtomicReference<@Nullable Resource> deleted = new AtomicReference<>();
        slots.compute(key, (k, old) -> {
            Resource current = old == null ? null : old.resource();
            Preconditions.check(key, precondition, current == null ? null : copy(current));
            if (old == null || current == null) {
                return old;
            }
            deleted.set(current);
            present.decrement();
            return new Slot(old.version(), null);
        });
        Resource gone = deleted.get();
        return gone == null ? Optional.empty() : Optional.of(copy(gone));
    }

    /** Always healthy: memory does not go away. */
    @Override
    public Health health() {
        return Health.healthy().withDetail("kind", kind()).withDetail("resources", present.sum());
    }

    /** Nothing to release; the resources stay readable until the store is garbage. */
    @Override
    public void close() {}

    @Override
    public String toString() {
        return "InMemoryResourceStore{resources=" + present.sum() + "}";
    }

    private static Resource copy(Resource resource) {
        return new Resource(resource.key(), resource.version(), resource.body().clone(), resource.updated());
    }
}

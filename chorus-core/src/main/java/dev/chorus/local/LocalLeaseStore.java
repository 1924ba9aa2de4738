package dev.chorus.local;

import dev.chorus.ReplicaId;
import dev.chorus.leases.Lease;
import dev.chorus.leases.LeaseLostException;
import dev.chorus.leases.LeaseOwner;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/*
 * The lease table of one LocalCluster. Every operation is one synchronized step, the in-memory analogue of
 * one atomic statement in PostgreSQL or one Lua script in Redis. Tokens come from one counter for every
 * key and only grow; a renewal keeps its token; an entry past its deadline counts as free.
 */

/** The shared lease table of a {@link LocalCluster}. */
final class LocalLeaseStore {

    private record Entry(ReplicaId holder, long token, long deadlineNanos) {}

    private final Clock clock;
    private final LongSupplier nanoTime;
    private final Map<String, Entry> entries = new HashMap<>();
    private long lastToken;

    LocalLeaseStore(Clock clock, LongSupplier nanoTime) {
        this.clock = clock;
        this.nanoTime = nanoTime;
    }

    synchronized Optional<Lease> tryAcquire(String key, ReplicaId holder, Duration ttl) {
        long now = nanoTime.getAsLong();
        Entry current = live(key, now);
        long token;
        if (current == null) {
            token = ++lastToken;
        } else if (current.holder.equals(holder)) {
            token = current.token;
        } else {
            return Optional.empty();
        }
        return Optional.of(store(key, holder, token, ttl, now));
    }

    synchronized Lease claim(String key, ReplicaId holder, Duration ttl) {
        long now = nanoTime.getAsLong();
        return store(key, holder, ++lastToken, ttl, now);
    }

    /** Claims every key in one step, as one statement or one script claims a batch in the networked stores. */
    synchronized List<Lease> claimAll(List<String> keys, ReplicaId holder, Duration ttl) {
        long now = nanoTime.getAsLong();
        List<Lease> leases = new ArrayList<>(keys.size());
        for (String key : keys) {
            leases.add(store(key, holder, ++lastToken, ttl, now));
        }
        return leases;
    }

    synchronized Lease renew(Lease lease) {
        long now = nanoTime.getAsLong();
        Entry current = entries.get(lease.key());
        if (current == null) {
            throw new LeaseLostException(lease.key(), lease.token(), "it was released or never held");
        }
        if (current.token != lease.token()) {
            throw new LeaseLostException(
                    lease.key(),
                    lease.token(),
                    "taken over by " + current.holder.shortForm() + " with token " + current.token);
        }
        if (current.deadlineNanos - now <= 0) {
            throw new LeaseLostException(lease.key(), lease.token(), "it expired before the renewal");
        }
        return store(lease.key(), lease.holder(), lease.token(), lease.ttl(), now);
    }

    /** Renews each lease still held with its token, in one step; empty for those lost. */
    synchronized List<Optional<Lease>> renewAll(List<Lease> leases) {
        List<Optional<Lease>> renewed = new ArrayList<>(leases.size());
        for (Lease lease : leases) {
            try {
                renewed.add(Optional.of(renew(lease)));
            } catch (LeaseLostException lost) {
                renewed.add(Optional.empty());
            }
        }
        return renewed;
    }

    synchronized void release(Lease lease) {
        Entry current = entries.get(lease.key());
        if (current != null && current.token == lease.token()) {
            entries.remove(lease.key());
        }
    }

    synchronized Optional<LeaseOwner> owner(String key) {
        long now = nanoTime.getAsLong();
        Entry current = live(key, now);
        if (current == null) {
            return Optional.empty();
        }
        Duration left = Duration.ofNanos(current.deadlineNanos - now);
        return Optional.of(new LeaseOwner(
                key, current.holder, current.token, clock.instant().plus(left)));
    }

    private @Nullable Entry live(String key, long now) {
        Entry current = entries.get(key);
        if (current != null && current.deadlineNanos - now <= 0) {
            entries.remove(key);
            return null;
        }
        return current;
    }

    private Lease store(String key, ReplicaId holder, long token, Duration ttl, long now) {
        long deadline = now + ttl.toNanos();
        entries.put(key, new Entry(holder, token, deadline));
        return new Lease(key, holder, token, ttl, deadline, nanoTime);
    }
}

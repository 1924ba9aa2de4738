package dev.chorus.sessions;

import dev.chorus.leases.Lease;
import dev.chorus.leases.Leases;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;

/*
 * Invariants:
 *
 * - At most MAX_IN_FLIGHT batches are in flight. A claim that finds fewer starts one at once, so a lone claim
 *   costs exactly what Leases.claim costs; claims that arrive while batches are in flight wait and go together
 *   in the next one (natural batching: no timer, no added latency when the store is fast). Two lanes, not
 *   one, so that one slow statement (a lock wait, a pool wait) does not hold every other claim behind it.
 * - A key is in at most one batch in flight: a second claim of the same key (a client that reconnected
 *   twice) waits until the first one's batch completed, so the later claim draws the larger token, as it
 *   would one by one.
 * - Every waiting claim completes: with its lease, or with the batch's failure.
 */

/** Gathers the session claims that arrive together into {@link Leases#claimAll} calls, one round trip each. */
final class ClaimBatcher {

    private record Waiting(String key, CompletableFuture<Lease> result) {}

    private final Leases leases;
    private final Duration ttl;
    private final int maxBatch;
    private static final int MAX_IN_FLIGHT = 2;

    private final ArrayDeque<Waiting> queue = new ArrayDeque<>();
    private final Set<String> flying = new HashSet<>();
    private int inFlight;

    ClaimBatcher(Leases leases, Duration ttl, int maxBatch) {
        this.leases = leases;
        this.ttl = ttl;
        this.maxBatch = Math.min(maxBatch, Leases.MAX_BATCH);
    }

    /** Claims {@code key}, in the next batch. */
    CompletableFuture<Lease> claim(String key) {
        Waiting waiting = new Waiting(key, new CompletableFuture<>());
        synchronized (this) {
            queue.add(waiting);
            if (inFlight >= MAX_IN_FLIGHT) {
                return waiting.result();
            }
            inFlight++;
        }
        flush();
        return waiting.result();
    }

    private void flush() {
        List<Waiting> batch = next();
        while (batch != null) {
            List<Waiting> sent = batch;
            CompletableFuture<List<Lease>> claimed;
            try {
                claimed = leases.claimAll(sent.stream().map(Waiting::key).toList(), ttl);
            } catch (RuntimeException e) {
                claimed = CompletableFuture.failedFuture(e);
            }
            if (!claimed.isDone()) {
                // The store answers later: its completion sends the next batch.
                claimed.whenComplete((leases, error) -> {
                    landed(sent);
                    complete(sent, leases, error);
                    flush();
                });
                return;
            }
            // Answered at once (an in-memory store): loop rather than recurse.
            landed(sent);
            claimed.handle((leases, error) -> {
                complete(sent, leases, error);
                return null;
            });
            batch = next();
        }
    }

    private synchronized void landed(List<Waiting> batch) {
        batch.forEach(waiting -> flying.remove(waiting.key()));
    }

    /**
     * The next batch of this lane, or null (and the lane ends) when no claim waits but for keys in flight:
     * the lane that carries those takes them when it lands.
     */
    private synchronized @Nullable List<Waiting> next() {
        List<Waiting> batch = new ArrayList<>(Math.min(queue.size(), maxBatch));
        Set<String> keys = new HashSet<>();
        for (Iterator<Waiting> it = queue.iterator(); it.hasNext() && batch.size() < maxBatch; ) {
            Waiting waiting = it.next();
            if (!flying.contains(waiting.key()) && keys.add(waiting.key())) {
                batch.add(waiting);
                it.remove();
            }
        }
        if (batch.isEmpty()) {
            inFlight--;
            return null;
        }
        flying.addAll(keys);
        return batch;
    }

    private static void complete(List<Waiting> batch, @Nullable List<Lease> leases, @Nullable Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        for (int i = 0; i < batch.size(); i++) {
            if (cause != null || leases == null) {
                batch.get(i)
                        .result()
                        .completeExceptionally(java.util.Objects.requireNonNullElseGet(
                                cause, () -> new IllegalStateException("the batch claim completed without leases")));
            } else {
                batch.get(i).result().complete(leases.get(i));
            }
        }
    }
}

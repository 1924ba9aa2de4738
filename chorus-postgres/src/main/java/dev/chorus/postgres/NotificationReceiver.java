package dev.chorus.postgres;

import dev.chorus.internal.FailureLog;
import dev.chorus.wire.DecodeResult;
import dev.chorus.wire.EnvelopeCodec;
import dev.chorus.wire.Rejection;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * The receive path of a replica: notification payloads in, envelope bytes out to the backplane. Invariants:
 *
 *  - The listener's event loop never blocks and never waits for a spill reference. Inline envelopes are handed
 *    on at once; a reference is checked (its MAC, in a signed cluster) and joins a bounded queue that one
 *    virtual thread, chorus-postgres-spill-fetcher, drains at a bounded rate, many rows per query, each query
 *    bounded by the fetch timeout. A reference that finds the queue full is dropped and counted.
 *  - Order per origin holds, because sequence trackers need it: while a reference of origin O is pending, O's
 *    later sequenced envelopes park behind it, in arrival order, and are handed on the moment it is loaded or
 *    given up. Other origins never wait. So a spilled envelope is never overtaken by a later one of its origin
 *    (which would make it look like a duplicate); one that is lost (no row, timeout, full queue, parking over
 *    its bound) leaves a hole in O's sequence that every subscriber reports as a Missed at O's next envelope.
 *  - A reference names its origin; references from this replica are skipped (local subscribers already have
 *    the envelope), references without an origin (unsequenced envelopes) are fetched but park nothing.
 *  - What a forged reference can cost: in a signed cluster, one MAC check. In an unsigned one, a place in the
 *    bounded queue, a share of the rate, and parking of the one origin it names for at most the fetch timeout.
 */

/** Turns notification payloads into received envelopes, loading spilled ones off the event loop. */
final class NotificationReceiver implements AutoCloseable {

    /** Where received bytes go: the backplane. Called on the event loop or the fetcher, under this receiver's lock. */
    interface Sink {
        /** Envelope bytes to decode and deliver. */
        void received(byte[] envelope);

        /** Something that is not a valid envelope or reference; counted and logged once per reason. */
        void rejected(DecodeResult.Rejected rejected);
    }

    private static final Logger LOG = LoggerFactory.getLogger(NotificationReceiver.class);
    /** Rows loaded by one query at most. */
    private static final int MAX_FETCH_BATCH = 64;
    /** Envelopes parked behind pending references, all origins together; past it, an origin stops waiting. */
    static final int MAX_PARKED_ENVELOPES = 10_000;

    /** A reference waiting for its row; guarded by the receiver's lock once queued. */
    private static final class Slot {
        final long id;
        final @Nullable UUID origin;
        byte @Nullable [] envelope;
        boolean done;

        Slot(long id, @Nullable UUID origin) {
            this.id = id;
            this.origin = origin;
        }
    }

    private final PostgresDatabase database;
    private final String channel;
    private final UUID self;
    private final EnvelopeCodec codec;
    private final SpillReferences references;
    private final Sink sink;
    private final int ratePerSecond;
    private final Duration fetchTimeout;
    private final String fetchSql;
    private final ArrayBlockingQueue<Slot> queue;
    private final CountDownLatch closed = new CountDownLatch(1);
    private final FailureLog failures = new FailureLog(LOG);
    private final Object lock = new Object();
    /** Per origin with a pending reference: its slots and the envelope bytes parked behind them, in order. */
    private final Map<UUID, ArrayDeque<Object>> parked = new HashMap<>();

    private int parkedEnvelopes;
    private final LongAdder fetched = new LongAdder();
    private final LongAdder missing = new LongAdder();
    private final LongAdder queueFull = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder abandoned = new LongAdder();
    private final LongAdder forged = new LongAdder();
    private @Nullable Thread fetcher;

    NotificationReceiver(
            PostgresDatabase database,
            String channel,
            UUID self,
            EnvelopeCodec codec,
            SpillReferences references,
            Sink sink,
            int queueCapacity,
            int ratePerSecond,
            Duration fetchTimeout) {
        this.database = database;
        this.channel = channel;
        this.self = self;
        this.codec = codec;
        this.references = references;
        this.sink = sink;
        this.ratePerSecond = ratePerSecond;
        this.fetchTimeout = fetchTimeout;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.fetchSql = "SELECT id, envelope FROM " + database.schema() + ".spill WHERE channel = ? AND id = ANY(?)";
    }

    void start() {
        fetcher = Thread.ofVirtual().name("chorus-postgres-spill-fetcher").start(this::fetchLoop);
    }

    // ---- event loop ----

    /** One notification payload; called on the listener's event loop. Never blocks, never throws. */
    void onPayload(String payload) {
        try {
            switch (NotificationPayloads.unpack(payload)) {
                case NotificationPayloads.Unpacked.Envelopes envelopes -> onEnvelopes(envelopes.envelopes());
                case NotificationPayloads.Unpacked.SpillReference reference -> onReference(reference);
                case NotificationPayloads.Unpacked.Foreign foreign ->
                    reject(Rejection.MALFORMED, "a notification that Chorus did not send: " + foreign.why());
            }
        } catch (RuntimeException e) {
            LOG.warn("Failed to handle a notification on channel '{}'; continuing", channel, e);
        }
    }

    private void onEnvelopes(List<byte[]> envelopes) {
        synchronized (lock) {
            for (byte[] bytes : envelopes) {
                ArrayDeque<Object> waiting = parked.isEmpty() ? null : parkedFor(bytes);
                if (waiting == null) {
                    sink.received(bytes);
                } else if (parkedEnvelopes >= MAX_PARKED_ENVELOPES) {
                    giveUp(waiting);
                    sink.received(bytes);
                } else {
                    waiting.addLast(bytes);
                    parkedEnvelopes++;
                }
            }
        }
    }

    /** The parking queue of the origin {@code bytes} claim to come from, if it has a pending reference. */
    private @Nullable ArrayDeque<Object> parkedFor(byte[] bytes) {
        // The header is not verified here; it decides only where the bytes wait. Decoding verifies them later.
        for (Map.Entry<UUID, ArrayDeque<Object>> entry : parked.entrySet()) {
            if (codec.isSequencedMessageFrom(bytes, 0, bytes.length, entry.getKey())) {
                return entry.getValue();
            }
        }
        return null;
    }

    private void onReference(NotificationPayloads.Unpacked.SpillReference reference) {
        if (!references.authentic(reference)) {
            forged.increment();
            reject(
                    Rejection.BAD_SIGNATURE,
                    "a spill reference without a valid MAC (forged, or from a replica with another secret)");
            return;
        }
        UUID origin = reference.origin();
        if (self.equals(origin)) {
            return; // our own sequenced envelope: local subscribers received it when it was published
        }
        Slot slot = new Slot(reference.id(), origin);
        synchronized (lock) {
            if (!queue.offer(slot)) {
                queueFull.increment();
                reject(
                        Rejection.SPILL_UNAVAILABLE,
                        "spill reference " + reference.id() + " dropped: " + queue.size()
                                + " references already wait for the fetcher (a flood, or PostgreSQL is slow)");
                return;
            }
            if (origin != null) {
                parked.computeIfAbsent(origin, o -> new ArrayDeque<>()).addLast(slot);
            }
        }
    }

    /** The origin of {@code waiting} stops waiting: its pending references are given up, its envelopes handed on. */
    private void giveUp(ArrayDeque<Object> waiting) {
        for (Object item : waiting) {
            if (item instanceof Slot slot && !slot.done) {
                slot.done = true;
                abandoned.increment();
                reject(
                        Rejection.SPILL_UNAVAILABLE,
                        "spill reference " + slot.id + " given up: " + MAX_PARKED_ENVELOPES
                                + " envelopes waited behind pending references");
            }
        }
        release(waiting);
    }

    /** Hands on what is ready at the head of an origin's queue; call under the lock. */
    private void release(ArrayDeque<Object> waiting) {
        while (!waiting.isEmpty()) {
            Object head = waiting.peekFirst();
            if (head instanceof Slot slot) {
                if (!slot.done) {
                    return;
                }
                waiting.pollFirst();
                if (slot.envelope != null) {
                    sink.received(slot.envelope);
                }
            } else {
                waiting.pollFirst();
                parkedEnvelopes--;
                sink.received((byte[]) head);
            }
        }
        parked.values().remove(waiting);
    }

    // ---- fetcher ----

    private void fetchLoop() {
        double tokens = ratePerSecond;
        long refilled = System.nanoTime();
        List<Slot> batch = new ArrayList<>(MAX_FETCH_BATCH);
        while (closed.getCount() > 0) {
            try {
                Slot first = queue.poll(1, TimeUnit.SECONDS);
                if (first == null) {
                    continue;
                }
                // Token bucket: at most ratePerSecond references a second, bursts up to one second's worth.
                long now = System.nanoTime();
                tokens = Math.min(ratePerSecond, tokens + (now - refilled) / 1e9 * ratePerSecond);
                refilled = now;
                if (tokens < 1) {
                    long waitNanos = (long) ((1 - tokens) / ratePerSecond * 1e9);
                    if (closed.await(waitNanos, TimeUnit.NANOSECONDS)) {
                        return;
                    }
                    tokens = 1;
                    refilled = System.nanoTime();
                }
                batch.add(first);
                queue.drainTo(batch, Math.min(MAX_FETCH_BATCH, (int) tokens) - 1);
                tokens -= batch.size();
                fetch(batch);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                LOG.warn("Spill fetcher on channel '{}' failed; continuing", channel, e);
            } finally {
                batch.clear();
            }
        }
    }

    private void fetch(List<Slot> batch) {
        Map<Long, byte[]> rows = new HashMap<>();
        String failure = null;
        try (Connection c = database.connection();
                PreparedStatement statement = c.prepareStatement(fetchSql)) {
            statement.setQueryTimeout((int) Math.max(1, fetchTimeout.toSeconds()));
            Long[] ids = batch.stream().map(slot -> slot.id).toArray(Long[]::new);
            Array array = c.createArrayOf("bigint", ids);
            statement.setString(1, channel);
            statement.setArray(2, array);
            try (ResultSet rs = statement.executeQuery()) {
                while (rs.next()) {
                    rows.put(rs.getLong(1), rs.getBytes(2));
                }
            }
            failures.recovered("Spill fetcher on channel '" + channel + "' loads spilled envelopes again");
        } catch (SQLException | RuntimeException e) {
            failure = FailureLog.describe(e);
            failures.failure(
                    "Spill fetcher on channel '" + channel + "' cannot load spilled envelopes from "
                            + database.describe() + "; subscribers will see the gaps",
                    e);
        }
        synchronized (lock) {
            for (Slot slot : batch) {
                if (slot.done) {
                    continue; // given up meanwhile
                }
                slot.done = true;
                slot.envelope = rows.get(slot.id);
                if (slot.envelope != null) {
                    fetched.increment();
                } else if (failure != null) {
                    failed.increment();
                    reject(Rejection.SPILL_UNAVAILABLE, "spill row " + slot.id + " could not be loaded: " + failure);
                } else {
                    missing.increment();
                    reject(
                            Rejection.SPILL_UNAVAILABLE,
                            "spill reference " + slot.id + " names no row of channel '" + channel
                                    + "' (forged, another channel's, or older than the retention)");
                }
                if (slot.origin == null) {
                    if (slot.envelope != null) {
                        sink.received(slot.envelope);
                    }
                } else {
                    ArrayDeque<Object> waiting = parked.get(slot.origin);
                    if (waiting != null) {
                        release(waiting);
                    }
                }
            }
        }
    }

    private void reject(Rejection reason, String detail) {
        sink.rejected(new DecodeResult.Rejected(reason, detail + " on channel '" + channel + "'"));
    }

    /** Counters for health details. */
    Map<String, Object> stats() {
        Map<String, Object> stats = new LinkedHashMap<>();
        stats.put("loaded", fetched.sum());
        stats.put("missing", missing.sum());
        stats.put("queueFull", queueFull.sum());
        stats.put("failed", failed.sum());
        stats.put("givenUp", abandoned.sum());
        stats.put("forged", forged.sum());
        stats.put("waiting", queue.size());
        return stats;
    }

    @Override
    public void close() {
        closed.countDown();
        Thread t = fetcher;
        if (t != null) {
            t.interrupt();
            try {
                t.join(Duration.ofSeconds(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

package dev.chorus.events;

import dev.chorus.internal.FailureLog;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * One sink: its backlog (SinkBacklog: the hub's broadcast log read at the sink's cursor, merged with its
 * own queue of targeted events and signals, in the hub's processing order), its overflow policy and its
 * delivery thread. The hub appends a broadcast to the log once for all sinks; it queues targeted events
 * and signals here, under its lock. One virtual thread at a time takes what is pending in batches of at
 * most BATCH items, so a sink blocked in a callback holds at most that batch and its backlog holds the
 * rest (overflow is a matter of counts, not timing).
 *
 * Wake-ups: a delivery thread runs while there is work and ends when there is none; the next wake-up
 * starts a new one. (A long-lived thread parked between wake-ups measured slower: up to half the
 * deliveries per second under the fan-out benchmark's load.) A targeted offer or a signal wakes the sink
 * directly; a broadcast wakes it through the hub's IdleSinks list, which a thread joins as it ends.
 * "scheduled" is set by whoever starts the thread (compare-and-set, so only one does) and cleared by the
 * thread before it looks for work one last time, so no wake-up is lost and a busy sink costs no one
 * anything.
 *
 * Capacity counts events, and a byte bound their data (SinkBacklog); either applies the policy. Reload
 * and close signals bypass both: dropping one would turn a reported loss into a silent one. They stay bounded all the same: a reload signalled right behind another (no
 * event between) replaces it (a reload's id is where the client stands after it, and the newer one covers
 * the older), so there is at most one reload per pending event, plus one.
 *
 * Under DROP_OLDEST a backlog over capacity drops its oldest events and owes the sink a QUEUE_OVERFLOW
 * reload, handed over before the next item: the dropped events were the oldest, so the signal sits exactly
 * where they were. Reloads queued ahead of a dropped event go with it: the owed reload's id (the newest
 * dropped event's) covers theirs, and handing them after it would leave the client holding an older id.
 * Under DISCONNECT a backlog over capacity is discarded and the sink closed: noticed by the sink's own
 * thread when it takes a batch, by a targeted offer, and by the hub's sweep every quarter capacity of
 * broadcasts, which catches a sink stuck in a callback forever.
 */

/** A registered sink: its identity, backlog, overflow policy and delivery thread. */
final class SinkQueue implements Registration {

    private static final Logger LOG = LoggerFactory.getLogger(SinkQueue.class);

    /**
     * Items the delivery thread takes per lock: fewer lock round trips under load. A sink blocked in a
     * callback may thus hold up to this many taken items beyond its capacity (and up to 64 KiB plus one event
     * of data beyond its byte bound: SinkBacklog.BATCH_BYTES).
     */
    static final int BATCH = 16;

    /*
     * A busy delivery thread adds to the hub's delivered counter once per this many deliveries, and
     * whenever it has caught up with its backlog. Adding once per batch was 13 % of the fan-out benchmark's
     * CPU samples: thousands of short-lived threads on one LongAdder, each starting on its base cell (a new
     * thread has no probe yet) and contending there.
     */
    private static final int COUNT_EVERY = 1_024;

    private record Closed(String reason) {}

    private final EventHub hub;
    private final BroadcastLog log;
    final Identity identity;
    private final Sink sink;
    private final int capacity;
    private final long maxBytes;
    private final OverflowPolicy policy;
    private final HubCounters counters;
    private final SinkBacklog backlog;
    private final Thread.Builder threadBuilder;
    private final FailureLog errors = new FailureLog(LOG);
    private int highWaterMark;
    private volatile boolean open = true;

    /** Set by the one who starts the delivery thread, cleared by the thread when it runs out of work. */
    private final AtomicBoolean scheduled = new AtomicBoolean();

    /** In the hub's IdleSinks list (or being taken off it); that list's link. */
    final AtomicBoolean listed = new AtomicBoolean();

    @Nullable
    SinkQueue nextIdle;

    /**
     * The id of the last event or reload handed to the sink, or the id it registered at: where the client
     * stands. Not the hub's current position, which covers events still pending here: a client that dropped
     * before receiving them and resumed from it would skip them.
     */
    private volatile String handedId;

    /** Sets {@link #handedId} with a release store: readers see it in order, without a fence per event. */
    private static final VarHandle HANDED_ID;

    static {
        try {
            HANDED_ID = MethodHandles.lookup().findVarHandle(SinkQueue.class, "handedId", String.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Where a resumed client stood, while this replica is behind it: events it already considered are
     * skipped, and ids handed to it never fall below it. Hub lock only; null once the hub caught up.
     */
    EventIds.@Nullable Cursor resumedAt;

    SinkQueue(
            EventHub hub,
            Identity identity,
            Sink sink,
            String registeredAt,
            int capacity,
            long maxBytes,
            OverflowPolicy policy,
            HubCounters counters) {
        this.hub = hub;
        this.log = hub.broadcastLog();
        this.identity = identity;
        this.sink = sink;
        this.handedId = registeredAt;
        this.capacity = capacity;
        this.policy = policy;
        this.counters = counters;
        this.backlog = new SinkBacklog(log, capacity, maxBytes, counters, identity.userId());
        this.maxBytes = maxBytes;
        this.threadBuilder = Thread.ofVirtual().name("chorus-sink-" + identity.userId());
    }

    // ---- the hub's side (hub lock held, except in tests) ----

    /** Queues a targeted event; applies the overflow policy. Returns false once the sink is closed. */
    boolean offer(Delivery delivery) {
        boolean kept;
        synchronized (this) {
            if (!open) {
                return false;
            }
            backlog.add(delivery);
            long head = log.head();
            recordDepth(head);
            kept = applyPolicy(head);
        }
        if (kept) {
            wake();
        } else {
            disconnected();
        }
        return kept;
    }

    /** Queues a reload signal, whatever the backlog; it replaces a reload queued right before it. */
    void signal(Reload reload) {
        synchronized (this) {
            if (!open) {
                return;
            }
            if (!backlog.replaceTrailingReload(reload)) {
                counters.reloadsSent.increment();
                backlog.add(reload);
            }
        }
        wake();
    }

    /** From now on the hub queues this sink's broadcasts itself, until {@link #attach}. */
    synchronized void detach() {
        backlog.detach();
    }

    /** Reads broadcasts from the log again, from broadcast {@code index} on. */
    synchronized void attach(long index) {
        backlog.attach(index);
    }

    /** Under DISCONNECT, closes the sink if it fell more than its capacity behind at {@code head}. */
    void disconnectIfBehind(long head) {
        if (!open || !backlog.overBound(head)) {
            return;
        }
        synchronized (this) {
            if (!open || applyPolicy(head)) {
                return;
            }
        }
        disconnected();
    }

    /** Closes the sink on the hub's behalf: the sink hears {@code reason} after its current callback. */
    void closeByHub(String reason) {
        close(reason, true);
    }

    // ---- overflow (sink lock held) ----

    /**
     * Applies the overflow policy to what is pending at {@code head}: DROP_OLDEST trims, DISCONNECT closes
     * the sink when it is over capacity (returns false then; call {@link #disconnected} after the lock).
     */
    private boolean applyPolicy(long head) {
        if (!backlog.overBound(head)) {
            return true;
        }
        if (policy == OverflowPolicy.DROP_OLDEST) {
            backlog.trim(head);
            return true;
        }
        closeLocked(
                "the client fell " + capacity + " events behind (or past " + maxBytes + " bytes of pending events);"
                        + " disconnected by the DISCONNECT overflow policy",
                DropReason.SINK_DISCONNECTED,
                true);
        return false;
    }

    /** After a disconnect, outside the sink lock: the thread hands the sink its close signal. */
    private void disconnected() {
        LOG.warn(
                "Sink of {} disconnected: it fell {} events behind (or past {} bytes of pending events)",
                identity,
                capacity,
                maxBytes);
        hub.unregister(this);
        wake();
    }

    private void recordDepth(long head) {
        int depth = (int) Math.min(backlog.pending(head), capacity);
        if (depth > highWaterMark) {
            highWaterMark = depth;
            counters.highWaterMark.accumulate(depth);
        }
    }

    private void closeLocked(String reason, DropReason dropReason, boolean tellSink) {
        open = false;
        counters.dropped(dropReason, backlog.clear(log.head()));
        if (tellSink) {
            backlog.add(new Closed(reason));
        }
    }

    private void close(String reason, boolean tellSink) {
        boolean disconnected = false;
        synchronized (this) {
            if (!open) {
                return;
            }
            // What the policy would have done by now comes first: drops owed, or a disconnect.
            long head = log.head();
            if (!applyPolicy(head)) {
                disconnected = true;
            } else {
                closeLocked(reason, DropReason.SINK_CLOSED, tellSink);
            }
        }
        if (disconnected) {
            disconnected();
        } else {
            hub.unregister(this);
            if (tellSink) {
                wake();
            }
        }
    }

    // ---- the delivery thread ----

    /** Starts the delivery thread unless it runs: it looks for work before it ends. */
    void wake() {
        if (!scheduled.get() && scheduled.compareAndSet(false, true)) {
            threadBuilder.start(this::drain);
        }
    }

    private void drain() {
        Object[] batch = new Object[BATCH];
        int taken = 0;
        int handed = 0;
        long delivered = 0;
        boolean finished = false;
        try {
            while (true) {
                handed = 0;
                taken = take(batch);
                if (taken < 0) {
                    finished = true; // closed and everything handed: "scheduled" stays set, no thread follows
                    return;
                }
                if (taken == 0) {
                    if (goIdle()) {
                        finished = true;
                        return;
                    }
                    continue;
                }
                while (handed < taken) {
                    Object item = batch[handed];
                    batch[handed++] = null;
                    if (item instanceof Delivery) {
                        delivered++;
                    }
                    handOver(item);
                }
                if (taken < BATCH || delivered >= COUNT_EVERY) {
                    delivered = countDelivered(delivered);
                }
            }
        } finally {
            countDelivered(delivered);
            if (!finished) {
                recoverFromError(batch, handed, taken);
            }
        }
    }

    /** Adds {@code delivered} to the hub's counter; returns 0, what is left to add. */
    private long countDelivered(long delivered) {
        if (delivered > 0) {
            counters.delivered.add(delivered);
        }
        return 0;
    }

    /** Fills {@code batch}; returns how many, or -1 when the sink is closed and nothing is left. */
    private int take(Object[] batch) {
        boolean disconnected = false;
        int taken;
        synchronized (this) {
            long head = log.head();
            if (open) {
                recordDepth(head);
                disconnected = !applyPolicy(head);
            }
            taken = backlog.take(batch, 0, head);
            while (backlog.stale()) {
                // Overtaken while reading: what the policy drops (or a disconnect) first, then go on.
                head = log.head();
                if (open && !applyPolicy(head)) {
                    disconnected = true;
                }
                taken = backlog.take(batch, taken, head);
            }
            if (taken == 0 && !open) {
                taken = -1;
            }
        }
        if (disconnected) {
            disconnected();
        }
        return taken;
    }

    /** Whether the delivery thread would find something to do: work pending, or a close to finish. */
    synchronized boolean hasWork() {
        return !open || backlog.hasWork(log.head());
    }

    /**
     * Clears "scheduled" and waits in the hub's idle list for the next broadcast; false if work came
     * meanwhile and this thread got "scheduled" back, so it carries on.
     */
    private boolean goIdle() {
        scheduled.set(false);
        hub.idleSinks().add(this);
        return !(hasWork() && scheduled.compareAndSet(false, true));
    }

    /*
     * A sink threw an Error (handOver contains only exceptions), which ends this thread. Without this the
     * sink would stay "scheduled" with no thread draining it: it would silently get nothing more. The rest
     * of the batch goes back to the front of the backlog, in order, and a new thread carries on.
     */
    private void recoverFromError(Object[] batch, int handed, int taken) {
        synchronized (this) {
            if (open && taken > handed) {
                backlog.putBack(batch, handed, taken);
            }
        }
        if (!goIdle()) {
            threadBuilder.start(this::drain);
        }
    }

    private void handOver(Object item) {
        try {
            // An if chain, events first: a pattern switch over Object costs more than the sink's own work.
            if (item instanceof Delivery delivery) {
                HANDED_ID.setRelease(this, delivery.id());
                sink.onEvent(delivery);
            } else if (item instanceof Reload reload) {
                HANDED_ID.setRelease(this, reload.id());
                sink.onReload(reload);
            } else if (item instanceof Closed closed) {
                sink.onClosed(closed.reason());
            } else {
                throw new IllegalStateException("unexpected item " + item);
            }
            if (errors.isFailing()) {
                errors.recovered("Sink of " + identity + " accepts events again");
            }
        } catch (RuntimeException e) {
            counters.sinkErrors.increment();
            errors.failure("Sink of " + identity + " threw; continuing with its next event", e);
        }
    }

    // ---- registration and stats ----

    /** Events beyond the capacity at {@code head} that DROP_OLDEST has yet to count (stats). */
    long uncountedDrops(long head) {
        return open && policy == OverflowPolicy.DROP_OLDEST ? Math.max(0, backlog.excess(head)) : 0;
    }

    /** Events pending at {@code head}, up to the capacity. */
    int depth(long head) {
        return open ? (int) Math.min(backlog.pending(head), capacity) : 0;
    }

    @Override
    public String position() {
        return handedId;
    }

    @Override
    public int queued() {
        return depth(log.head());
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public void close() {
        close("closed by the server", false);
    }
}

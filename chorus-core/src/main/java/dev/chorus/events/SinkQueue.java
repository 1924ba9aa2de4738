package dev.chorus.events;

import dev.chorus.internal.FailureLog;
import java.util.ArrayDeque;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * One sink's bounded queue and delivery thread. The hub enqueues under its lock, so a sink's queue holds
 * events in the order the hub processed them; one virtual thread at a time drains it, taking what is
 * queued in batches of at most BATCH items, so a sink blocked in a callback holds at most that batch and
 * its queue holds the rest (overflow is a matter of counts, not timing).
 *
 * Capacity counts events only. Reload and close signals bypass it: dropping one would turn a reported
 * loss into a silent one. They stay bounded all the same: a reload signalled right behind another replaces
 * it (a reload's id is where the client stands after it, and the newer one covers the older), so there is
 * at most one reload per queued event, plus one.
 *
 * Under DROP_OLDEST a full queue drops its oldest event and owes the sink a QUEUE_OVERFLOW reload, handed
 * over before the next item: the dropped events were the oldest, so the signal sits exactly where they
 * were. Reloads queued ahead of the dropped event go with it: the owed reload's id (the dropped event's)
 * covers theirs, and handing them after it would leave the client holding an older id. Under DISCONNECT a
 * full queue discards everything and closes.
 */

/** A registered sink: its identity, queue, overflow policy and delivery thread. */
final class SinkQueue implements Registration {

    private static final Logger LOG = LoggerFactory.getLogger(SinkQueue.class);

    /**
     * Items the delivery thread takes per lock: fewer lock round trips under load. A sink blocked in a
     * callback may thus hold up to this many taken items beyond its queue's capacity.
     */
    static final int BATCH = 16;

    private record Closed(String reason) {}

    private final EventHub hub;
    final Identity identity;
    private final Sink sink;
    private final int capacity;
    private final OverflowPolicy policy;
    private final HubCounters counters;
    private final Thread.Builder threadBuilder;
    private final FailureLog errors = new FailureLog(LOG);
    private final ArrayDeque<Object> items = new ArrayDeque<>();
    private int events;
    private int highWaterMark;
    private long droppedOwed;
    private boolean scheduled;
    private boolean open = true;
    private @Nullable String owedReloadId;

    /**
     * The id of the last event or reload handed to the sink, or the id it registered at: where the client
     * stands. Not the hub's current position, which covers events still queued here: a client that dropped
     * before receiving them and resumed from it would skip them.
     */
    private volatile String handedId;

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
            OverflowPolicy policy,
            HubCounters counters) {
        this.hub = hub;
        this.identity = identity;
        this.sink = sink;
        this.handedId = registeredAt;
        this.capacity = capacity;
        this.policy = policy;
        this.counters = counters;
        this.threadBuilder = Thread.ofVirtual().name("chorus-sink-" + identity.userId());
    }

    /** Queues an event; applies the overflow policy when full. Returns false once the sink is closed. */
    boolean offer(Delivery delivery) {
        boolean disconnected;
        synchronized (this) {
            if (!open) {
                return false;
            }
            disconnected = events == capacity && policy == OverflowPolicy.DISCONNECT;
            if (disconnected) {
                closeLocked(
                        "the client fell " + capacity + " events behind; disconnected by the DISCONNECT overflow"
                                + " policy",
                        DropReason.SINK_DISCONNECTED,
                        true);
            } else {
                if (events == capacity) {
                    dropOldestEvent();
                }
                items.addLast(delivery);
                events++;
                if (events > highWaterMark) {
                    highWaterMark = events;
                    counters.highWaterMark.accumulate(events);
                }
                scheduleLocked();
            }
        }
        if (disconnected) {
            LOG.warn("Sink of user '{}' disconnected: its queue of {} events was full", identity.userId(), capacity);
            hub.unregister(this);
        }
        return !disconnected;
    }

    /** Drops the oldest event (the queue holds {@code capacity >= 1} of them) and what it makes redundant. */
    private void dropOldestEvent() {
        // Only reloads can precede the oldest event; the owed reload covers them (see the top).
        while (items.peekFirst() instanceof Reload) {
            items.pollFirst();
            counters.reloadsSent.decrement();
        }
        Delivery dropped = (Delivery) items.pollFirst();
        events--;
        droppedOwed++;
        // Once it has reloaded, the client stands at least where the newest dropped event left it.
        owedReloadId = dropped.id();
        counters.dropped(DropReason.QUEUE_FULL, 1);
    }

    /** Queues a reload signal, whatever the queue's fill; it replaces a reload queued right before it. */
    synchronized void signal(Reload reload) {
        if (!open) {
            return;
        }
        if (items.peekLast() instanceof Reload) {
            items.pollLast();
        } else {
            counters.reloadsSent.increment();
        }
        items.addLast(reload);
        scheduleLocked();
    }

    /** Closes the sink on the hub's behalf: the sink hears {@code reason} after its current callback. */
    void closeByHub(String reason) {
        synchronized (this) {
            if (!open) {
                return;
            }
            closeLocked(reason, DropReason.SINK_CLOSED, true);
        }
        hub.unregister(this);
    }

    private void closeLocked(String reason, DropReason dropReason, boolean tellSink) {
        open = false;
        counters.dropped(dropReason, events);
        items.clear();
        events = 0;
        droppedOwed = 0;
        if (tellSink) {
            items.addLast(new Closed(reason));
            scheduleLocked();
        }
    }

    private void scheduleLocked() {
        if (!scheduled) {
            scheduled = true;
            threadBuilder.start(this::drain);
        }
    }

    private void drain() {
        Object[] batch = new Object[BATCH];
        int taken = 0;
        int handed = 0;
        boolean finished = false;
        try {
            while (true) {
                taken = 0;
                handed = 0;
                synchronized (this) {
                    if (droppedOwed > 0 && owedReloadId != null) {
                        counters.reloadsSent.increment();
                        LOG.debug(
                                "Sink of user '{}' was too slow: {} events were dropped from its full queue of {}",
                                identity.userId(),
                                droppedOwed,
                                capacity);
                        batch[taken++] = Reload.of(Reload.Reason.QUEUE_OVERFLOW, owedReloadId);
                        droppedOwed = 0;
                        owedReloadId = null;
                    }
                    Object item;
                    while (taken < BATCH && (item = items.pollFirst()) != null) {
                        batch[taken++] = item;
                        if (item instanceof Delivery) {
                            events--;
                        }
                    }
                    if (taken == 0) {
                        scheduled = false;
                        finished = true;
                        return;
                    }
                }
                int delivered = 0;
                while (handed < taken) {
                    Object item = batch[handed];
                    batch[handed++] = null;
                    if (item instanceof Delivery) {
                        delivered++;
                    }
                    handOver(item);
                }
                counters.delivered.add(delivered);
            }
        } finally {
            if (!finished) {
                recoverFromError(batch, handed, taken);
            }
        }
    }

    /*
     * A sink threw an Error (handOver contains only exceptions), which ends this thread. Without this the
     * queue would stay "scheduled" with no thread draining it: the sink would silently get nothing more.
     * The rest of the batch goes back to the head of the queue, in order, and a new thread carries on.
     */
    private synchronized void recoverFromError(Object[] batch, int handed, int taken) {
        if (open) {
            for (int i = taken - 1; i >= handed; i--) {
                items.addFirst(batch[i]);
                if (batch[i] instanceof Delivery) {
                    events++;
                }
            }
        }
        scheduled = false;
        if (!items.isEmpty() || droppedOwed > 0) {
            scheduleLocked();
        }
    }

    private void handOver(Object item) {
        try {
            switch (item) {
                case Delivery delivery -> {
                    handedId = delivery.id();
                    sink.onEvent(delivery);
                }
                case Reload reload -> {
                    handedId = reload.id();
                    sink.onReload(reload);
                }
                case Closed closed -> sink.onClosed(closed.reason());
                default -> throw new IllegalStateException("unexpected item " + item);
            }
            if (errors.isFailing()) {
                errors.recovered("Sink of user '" + identity.userId() + "' accepts events again");
            }
        } catch (RuntimeException e) {
            counters.sinkErrors.increment();
            errors.failure("Sink of user '" + identity.userId() + "' threw; continuing with its next event", e);
        }
    }

    @Override
    public String position() {
        return handedId;
    }

    @Override
    public synchronized int queued() {
        return events;
    }

    @Override
    public synchronized boolean isOpen() {
        return open;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (!open) {
                return;
            }
            closeLocked("closed by the server", DropReason.SINK_CLOSED, false);
        }
        hub.unregister(this);
    }
}

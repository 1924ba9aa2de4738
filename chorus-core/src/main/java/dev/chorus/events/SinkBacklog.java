package dev.chorus.events;

import java.util.ArrayDeque;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * What one sink has yet to receive, in the hub's processing order: the broadcasts in the hub's log from
 * the sink's cursor on, merged with the sink's own queue of targeted events and signals. Every queued item
 * carries the log's head when it was queued, its mark: it comes after the broadcasts below its mark and
 * before the others. Items are queued under the hub lock, so marks never decrease along the queue, and
 * taking whichever of "queue head" and "broadcast at the cursor" comes first gives exactly the hub's order.
 *
 * Capacity counts events from both sources. Nothing counts a broadcast against each sink when it is
 * appended: the overflow policy is applied lazily, when anyone looks (the sink taking a batch, a targeted
 * offer, a close, the hub's sweep, stats). The outcome is the same as dropping eagerly on every append:
 * between two looks the backlog only grows at its newest end, and dropping the oldest each time it
 * exceeds the capacity leaves the newest "capacity" events, which is what one trim at the end leaves too.
 *
 * Trimming drops the oldest events of the merged sequence, together with the signals queued before them,
 * and owes the sink a QUEUE_OVERFLOW reload whose id is the newest dropped event's, handed before anything
 * else: the dropped events were the oldest, so the signal sits exactly where they were (see SinkQueue).
 *
 * Detached: a sink resumed from an id ahead of this replica does not read the log; the hub queues its
 * broadcasts (with merged ids, skipping those it had considered) until this replica catches up, then
 * attaches it at the log's head.
 *
 * Guarded by the owning SinkQueue's lock; cursor, events and detached are also read without it (stats,
 * queued(), the hub's sweep), which is why they are volatile. Writers update them before counting drops,
 * and readers read the counters before them, so a lock-free reader may miss a drop for an instant but
 * never counts one twice.
 */

/** One sink's pending events: its cursor in the hub's broadcast log and its own queue, merged in order. */
final class SinkBacklog {

    private static final Logger LOG = LoggerFactory.getLogger(SinkBacklog.class);

    /** Before every mark: items put back at the front after a sink's Error, older than anything pending. */
    private static final long FRONT = Long.MIN_VALUE;

    private record Queued(long mark, Object item) {}

    private final BroadcastLog log;
    private final int capacity;
    private final HubCounters counters;
    private final String user;
    /** Sized for an idle sink (most are): broadcasts come from the log, not from here; grows on demand. */
    private final ArrayDeque<Queued> items = new ArrayDeque<>(2);

    private volatile long cursor;
    private volatile int events;
    private volatile boolean detached;
    private long owedDrops;
    private @Nullable String owedReloadId;
    private boolean stale;

    SinkBacklog(BroadcastLog log, int capacity, HubCounters counters, String user) {
        this.log = log;
        this.capacity = capacity;
        this.counters = counters;
        this.user = user;
        this.cursor = log.head();
    }

    /** Events pending at log head {@code head}, before any trim (may exceed the capacity). */
    long pending(long head) {
        long fromLog = detached ? 0 : Math.max(0, head - cursor);
        return fromLog + events;
    }

    /** Events beyond the capacity at log head {@code head}: what the overflow policy has yet to handle. */
    long excess(long head) {
        return pending(head) - capacity;
    }

    /** Queues a targeted event or a signal behind everything now in the log. */
    void add(Object item) {
        items.addLast(new Queued(log.head(), item));
        if (item instanceof Delivery) {
            events++;
        }
    }

    /** Replaces a reload queued right before {@code reload} (no broadcast since); false if there is none. */
    boolean replaceTrailingReload(Reload reload) {
        Queued last = items.peekLast();
        long head = log.head();
        if (last == null || !(last.item() instanceof Reload) || last.mark() != head) {
            return false;
        }
        items.pollLast();
        items.addLast(new Queued(head, reload));
        return true;
    }

    /** Stops reading the log: the hub queues this sink's broadcasts itself (it resumed ahead of the hub). */
    void detach() {
        detached = true;
    }

    /** Reads the log again from broadcast {@code index} on. */
    void attach(long index) {
        cursor = index;
        detached = false;
    }

    /**
     * Drops the oldest events until at most the capacity are pending at {@code head}, and owes the sink a
     * reload for them; counts them as QUEUE_FULL.
     */
    void trim(long head) {
        long at = head;
        while (!trimOnce(at)) {
            // The newest dropped broadcast was overwritten while trimming: the log moved on by more than
            // its slack, so more is dropped now, and the owed reload gets the newer id.
            at = log.head();
        }
    }

    /** One trim at {@code head}; false if the newest dropped broadcast's id could not be read any more. */
    private boolean trimOnce(long head) {
        long excess = excess(head);
        if (excess <= 0) {
            return true;
        }
        long at = cursor;
        int queued = events;
        long dropped = 0;
        long newestFromLog = -1;
        @Nullable String newestQueued = null;
        while (excess > 0) {
            Queued first = items.peekFirst();
            if (first != null && (detached || first.mark() <= at)) {
                items.pollFirst();
                if (first.item() instanceof Delivery delivery) {
                    queued--;
                    excess--;
                    dropped++;
                    newestQueued = delivery.id();
                    newestFromLog = -1;
                } else {
                    // A reload before a dropped event: the owed reload's id covers it (see SinkQueue).
                    counters.reloadsSent.decrement();
                }
            } else {
                // Broadcasts up to the next queued item (or the head): skipped at once, however many.
                long limit = first == null ? head : Math.min(head, first.mark());
                long skipped = Math.min(excess, limit - at);
                at += skipped;
                excess -= skipped;
                dropped += skipped;
                newestFromLog = at - 1;
            }
        }
        cursor = at;
        events = queued;
        @Nullable String newest = newestQueued;
        if (newestFromLog >= 0) {
            Delivery delivery = log.get(newestFromLog);
            newest = delivery == null ? null : delivery.id();
        }
        owedDrops += dropped;
        if (newest != null) {
            owedReloadId = newest;
        }
        counters.dropped(DropReason.QUEUE_FULL, dropped);
        return newest != null;
    }

    /**
     * Moves pending items into {@code batch} from index {@code from}, in order, up to its length, with an
     * owed reload first; reads the log up to {@code head}. Returns the new count. When a broadcast was
     * overwritten before it was read, {@link #stale} says so: trim at a fresh head, then take again.
     */
    int take(Object[] batch, int from, long head) {
        int taken = from;
        long at = cursor;
        stale = false;
        while (taken < batch.length) {
            if (owedDrops > 0) {
                batch[taken++] = owedReload();
                continue;
            }
            Queued first = items.peekFirst();
            if (!detached && at < head && (first == null || first.mark() > at)) {
                Delivery delivery = log.get(at);
                if (delivery == null) {
                    stale = true;
                    break;
                }
                batch[taken++] = delivery;
                at++;
            } else if (first != null) {
                items.pollFirst();
                if (first.item() instanceof Delivery) {
                    events--;
                }
                batch[taken++] = first.item();
            } else {
                break;
            }
        }
        cursor = at;
        return taken;
    }

    /** Whether the last {@link #take} stopped at a broadcast that was overwritten before it was read. */
    boolean stale() {
        return stale;
    }

    private Reload owedReload() {
        counters.reloadsSent.increment();
        LOG.debug(
                "Sink of user '{}' was too slow: {} events were dropped from its backlog of {}",
                user,
                owedDrops,
                capacity);
        Reload reload = Reload.of(
                Reload.Reason.QUEUE_OVERFLOW, Objects.requireNonNull(owedReloadId, "a trim names the newest drop"));
        owedDrops = 0;
        owedReloadId = null;
        return reload;
    }

    /** Puts {@code batch[from..to)} back at the front, in order: items taken but never handed. */
    void putBack(Object[] batch, int from, int to) {
        for (int i = to - 1; i >= from; i--) {
            items.addFirst(new Queued(FRONT, batch[i]));
            if (batch[i] instanceof Delivery) {
                events++;
            }
        }
    }

    /** Whether anything is pending at {@code head}. */
    boolean hasWork(long head) {
        return owedDrops > 0 || !items.isEmpty() || (!detached && cursor < head);
    }

    /** Forgets everything pending and stops reading the log; returns how many events that was (capped). */
    long clear(long head) {
        long pending = Math.min(pending(head), capacity);
        detached = true;
        items.clear();
        events = 0;
        owedDrops = 0;
        owedReloadId = null;
        return pending;
    }
}

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
 * Bytes: the backlog is also over its bound when the event data pending (broadcasts from the cursor on,
 * plus queued events) exceeds maxBytes while more than one event is pending, and when its cursor is below
 * the log's tail (the log evicted those broadcasts' events to keep its own byte bound). Either way the trim
 * drops oldest first, exactly as for the count, and the owed reload takes the newest dropped id (the log
 * keeps ids of evicted broadcasts until their slot is reused).
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

    /** Event data after which a batch being taken stops (at least one event is always taken). */
    static final long BATCH_BYTES = 64 * 1024;

    /** Before every mark: items put back at the front after a sink's Error, older than anything pending. */
    private static final long FRONT = Long.MIN_VALUE;

    private record Queued(long mark, Object item) {}

    private final BroadcastLog log;
    private final int capacity;
    private final long maxBytes;
    private final HubCounters counters;
    private final String user;
    /** Sized for an idle sink (most are): broadcasts come from the log, not from here; grows on demand. */
    private final ArrayDeque<Queued> items = new ArrayDeque<>(2);

    private volatile long cursor;
    private volatile int events;
    /** Data bytes of the queued events (not of the broadcasts read from the log). */
    private volatile long queuedBytes;

    private volatile boolean detached;
    private long owedDrops;
    private @Nullable String owedReloadId;
    private boolean stale;

    SinkBacklog(BroadcastLog log, int capacity, HubCounters counters, String user) {
        this(log, capacity, Long.MAX_VALUE, counters, user);
    }

    SinkBacklog(BroadcastLog log, int capacity, long maxBytes, HubCounters counters, String user) {
        this.log = log;
        this.capacity = capacity;
        this.maxBytes = maxBytes;
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

    /**
     * Whether the overflow policy has work at log head {@code head}: events beyond the capacity, event data
     * beyond the byte bound, or broadcasts whose events the log no longer holds.
     */
    boolean overBound(long head) {
        return overBound(cursor, events, queuedBytes, head);
    }

    private boolean overBound(long at, int queued, long bytes, long head) {
        long fromLog = detached ? 0 : Math.max(0, head - at);
        if (fromLog + queued > capacity || (!detached && at < Math.min(log.tail(), head))) {
            return true;
        }
        return fromLog + queued > 1 && pendingBytes(at, bytes, head) > maxBytes;
    }

    /** Event data pending from {@code at} with {@code bytes} queued; MAX_VALUE if the log moved on meanwhile. */
    private long pendingBytes(long at, long bytes, long head) {
        if (detached || at >= head) {
            return bytes;
        }
        long fromLog = log.bytes(at, head);
        return fromLog < 0 ? Long.MAX_VALUE : fromLog + bytes;
    }

    /** Event data pending at log head {@code head} (stats and tests). */
    long pendingBytes(long head) {
        return pendingBytes(cursor, queuedBytes, head);
    }

    /** Queues a targeted event or a signal behind everything now in the log. */
    void add(Object item) {
        items.addLast(new Queued(log.head(), item));
        if (item instanceof Delivery delivery) {
            events++;
            queuedBytes += delivery.event().size();
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
        if (!overBound(head)) {
            return true;
        }
        long at = cursor;
        int queued = events;
        long bytes = queuedBytes;
        long dropped = 0;
        long newestFromLog = -1;
        @Nullable String newestQueued = null;
        while (overBound(at, queued, bytes, head)) {
            long fromLog = detached ? 0 : Math.max(0, head - at);
            // Whole runs for the count and for evicted broadcasts; one at a time for the byte bound.
            long excess =
                    Math.max(1, Math.max(fromLog + queued - capacity, detached ? 0 : Math.min(log.tail(), head) - at));
            Queued first = items.peekFirst();
            if (first != null && (detached || first.mark() <= at)) {
                items.pollFirst();
                if (first.item() instanceof Delivery delivery) {
                    queued--;
                    bytes -= delivery.event().size();
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
                if (skipped <= 0) {
                    break; // nothing left to drop
                }
                at += skipped;
                dropped += skipped;
                newestFromLog = at - 1;
            }
        }
        cursor = at;
        events = queued;
        queuedBytes = bytes;
        @Nullable String newest = newestQueued;
        if (newestFromLog >= 0) {
            newest = log.id(newestFromLog);
        }
        owedDrops += dropped;
        if (newest != null) {
            owedReloadId = newest;
        }
        counters.dropped(DropReason.QUEUE_FULL, dropped);
        return newest != null || dropped == 0;
    }

    /**
     * Moves pending items into {@code batch} from index {@code from}, in order, up to its length, with an
     * owed reload first; reads the log up to {@code head}. Returns the new count. When a broadcast was
     * overwritten before it was read, {@link #stale} says so: trim at a fresh head, then take again.
     */
    int take(Object[] batch, int from, long head) {
        int taken = from;
        long at = cursor;
        long batchBytes = 0;
        stale = false;
        // A batch also stops at BATCH_BYTES of event data: taken events are held beyond the byte bound until
        // handed over, so large ones go a few at a time.
        while (taken < batch.length && batchBytes < BATCH_BYTES) {
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
                batchBytes += delivery.event().size();
                at++;
            } else if (first != null) {
                items.pollFirst();
                if (first.item() instanceof Delivery delivery) {
                    events--;
                    queuedBytes -= delivery.event().size();
                    batchBytes += delivery.event().size();
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
            if (batch[i] instanceof Delivery delivery) {
                events++;
                queuedBytes += delivery.event().size();
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
        queuedBytes = 0;
        owedDrops = 0;
        owedReloadId = null;
        return pending;
    }
}

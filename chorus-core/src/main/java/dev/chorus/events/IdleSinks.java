package dev.chorus.events;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/*
 * The sinks a broadcast must wake: those whose delivery thread ended for want of work. A busy sink reads
 * the log on its own and needs no wake-up, so after an append the hub wakes only the sinks listed here, and
 * under load (when sinks are busy) a broadcast costs the hub no per-sink work at all. Walking every sink
 * instead would cost a read per sink per broadcast: ten million a second per replica at the target load.
 *
 * A lock-free stack threaded through the sinks themselves (SinkQueue.nextIdle), each listed at most once
 * (SinkQueue.listed), so it never holds more than the hub's sinks and listing allocates nothing. No
 * wake-up is lost: a sink going idle clears its scheduled flag, lists itself, then looks at the log again;
 * the hub raises the log's head, then takes the list. Either the hub finds the sink listed, or the sink
 * sees the new head (both sides use volatile accesses, so one of them sees the other's write).
 *
 * Closed sinks: a sink that closes while listed stays on the stack until something takes it off, and with
 * it its Sink (for the server, the socket and the request it came from). Only a broadcast used to take it
 * off: a replica whose clients came and went without broadcasts kept every socket it ever served (25 KiB
 * each). So closes are counted, and once the closed sinks listed since the last sweep could match the open
 * ones, a sweep takes the whole stack, lists the open sinks again and drops the closed ones: at most as many
 * closed sinks as open ones are ever held, none once every sink closed, at an amortised cost of O(1) per
 * close. A broadcast that came while the open sinks were off the stack did not wake them; the sweep looks at
 * each one's work after listing it again and wakes it, the same handshake as a sink going idle.
 */

/** The sinks waiting for the next broadcast. */
final class IdleSinks {

    private final AtomicReference<@Nullable SinkQueue> top = new AtomicReference<>();
    private final AtomicInteger closedSinceSweep = new AtomicInteger();
    private final AtomicBoolean sweeping = new AtomicBoolean();

    /** Lists {@code sink} unless it is listed already. */
    void add(SinkQueue sink) {
        if (!sink.listed.compareAndSet(false, true)) {
            return;
        }
        push(sink);
    }

    private void push(SinkQueue sink) {
        SinkQueue next;
        do {
            next = top.get();
            sink.nextIdle = next;
        } while (!top.compareAndSet(next, sink));
    }

    /**
     * {@code sink} closed, with {@code openSinks} still registered: sweeps closed sinks off the list once as
     * many closed as open ones may be listed.
     */
    void closed(SinkQueue sink, int openSinks) {
        if (!sink.listed.get() || closedSinceSweep.incrementAndGet() < openSinks) {
            return;
        }
        if (!sweeping.compareAndSet(false, true)) {
            return; // the running sweep, or the next close, takes it
        }
        try {
            closedSinceSweep.set(0);
            sweep();
        } finally {
            sweeping.set(false);
        }
    }

    private void sweep() {
        List<SinkQueue> relisted = new ArrayList<>();
        SinkQueue sink = top.getAndSet(null);
        while (sink != null) {
            SinkQueue next = sink.nextIdle;
            sink.nextIdle = null;
            if (sink.isOpen()) {
                push(sink); // still "listed": it never left the hub's idea of the list
                relisted.add(sink);
            } else {
                sink.listed.set(false);
            }
            sink = next;
        }
        for (SinkQueue open : relisted) {
            if (open.hasWork()) {
                open.wake();
            }
        }
    }

    /** How many sinks are listed, open or closed (tests). */
    int size() {
        int size = 0;
        for (SinkQueue sink = top.get(); sink != null; sink = sink.nextIdle) {
            size++;
        }
        return size;
    }

    /** Whether no sink is listed. */
    boolean isEmpty() {
        return top.get() == null;
    }

    /** Takes every listed sink and wakes it. */
    void wakeAll() {
        if (top.get() == null) {
            return;
        }
        SinkQueue sink = top.getAndSet(null);
        while (sink != null) {
            // Read before unlisting: once unlisted, the sink may list itself again and rewrite nextIdle.
            SinkQueue next = sink.nextIdle;
            sink.nextIdle = null;
            sink.listed.set(false);
            sink.wake();
            sink = next;
        }
    }
}

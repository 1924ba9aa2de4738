package dev.chorus.events;

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
 */

/** The sinks waiting for the next broadcast. */
final class IdleSinks {

    private final AtomicReference<@Nullable SinkQueue> top = new AtomicReference<>();

    /** Lists {@code sink} unless it is listed already. */
    void add(SinkQueue sink) {
        if (!sink.listed.compareAndSet(false, true)) {
            return;
        }
        SinkQueue next;
        do {
            next = top.get();
            sink.nextIdle = next;
        } while (!top.compareAndSet(next, sink));
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

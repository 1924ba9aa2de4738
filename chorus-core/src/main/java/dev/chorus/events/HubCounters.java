package dev.chorus.events;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/** The live counters behind {@link EventHubStats}. */
final class HubCounters {

    final LongAdder published = new LongAdder();
    final LongAdder received = new LongAdder();
    final LongAdder delivered = new LongAdder();
    final Map<DropReason, LongAdder> dropped = new EnumMap<>(DropReason.class);
    final LongAccumulator highWaterMark = new LongAccumulator(Math::max, 0);
    final LongAdder resumesServed = new LongAdder();
    final LongAdder resumesRefused = new LongAdder();
    final LongAdder reloadsSent = new LongAdder();
    final LongAdder gapsDetected = new LongAdder();
    final LongAdder rejected = new LongAdder();
    final LongAdder sinkErrors = new LongAdder();

    HubCounters() {
        for (DropReason reason : DropReason.values()) {
            dropped.put(reason, new LongAdder());
        }
    }

    void dropped(DropReason reason, long count) {
        if (count > 0) {
            dropped.get(reason).add(count);
        }
    }

    /**
     * The counters plus what the sinks' backlogs hold beyond their capacity and have yet to count (the
     * overflow policy runs lazily, see SinkBacklog): read in that order, a drop counted meanwhile is missed
     * for an instant but never counted twice.
     */
    EventHubStats snapshot(
            List<SinkQueue> sinks,
            int origins,
            BroadcastLog log,
            int historyEvents,
            long historyBytes,
            long historyEvicted) {
        Map<DropReason, Long> drops = new EnumMap<>(DropReason.class);
        dropped.forEach((reason, count) -> drops.put(reason, count.sum()));
        long deepest = highWaterMark.get();
        long head = log.head();
        long uncounted = 0;
        for (SinkQueue sink : sinks) {
            uncounted += sink.uncountedDrops(head);
            deepest = Math.max(deepest, sink.depth(head));
        }
        drops.merge(DropReason.QUEUE_FULL, uncounted, Long::sum);
        return new EventHubStats(
                published.sum(),
                received.sum(),
                delivered.sum(),
                drops,
                deepest,
                resumesServed.sum(),
                resumesRefused.sum(),
                reloadsSent.sum(),
                gapsDetected.sum(),
                rejected.sum(),
                sinkErrors.sum(),
                sinks.size(),
                origins,
                historyEvents,
                historyBytes,
                historyEvicted);
    }
}

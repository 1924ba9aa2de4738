package dev.chorus.events;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;

/** Issue 20: a sink's backlog and the hub's broadcast log are bounded in bytes, not only in events. */
class SinkBacklogBytesTest {

    private static final int KIB = 1024;

    private final HubCounters counters = new HubCounters();

    private static Delivery delivery(String id, int bytes) {
        return new Delivery(id, new Event("t", new byte[bytes]));
    }

    private static List<String> takeAll(SinkBacklog backlog, BroadcastLog log) {
        Object[] batch = new Object[256];
        int taken = backlog.take(batch, 0, log.head());
        return Arrays.stream(batch, 0, taken)
                .map(item -> switch (item) {
                    case Delivery d -> d.id();
                    case Reload r -> "reload at " + r.id();
                    default -> Objects.toString(item);
                })
                .toList();
    }

    @Test
    void broadcastsPastTheSinksByteBound_dropTheOldest_withAReloadAtTheNewestDropped() {
        BroadcastLog log = new BroadcastLog(64);
        SinkBacklog backlog = new SinkBacklog(log, 64, 4 * KIB, counters, "alice");
        for (int i = 0; i < 10; i++) {
            log.append(delivery("b" + i, KIB));
        }

        assertThat(backlog.overBound(log.head())).isTrue();
        backlog.trim(log.head());

        assertThat(backlog.pendingBytes(log.head())).isEqualTo(4 * KIB);
        assertThat(counters.dropped.get(DropReason.QUEUE_FULL).sum()).isEqualTo(6);
        assertThat(takeAll(backlog, log)).containsExactly("reload at b5", "b6", "b7", "b8", "b9");
    }

    @Test
    void queuedEventsCountTowardTheByteBound_andTheOldestGoFirst() {
        BroadcastLog log = new BroadcastLog(64);
        SinkBacklog backlog = new SinkBacklog(log, 64, 2 * KIB + 512, counters, "alice");
        backlog.add(delivery("u0", 2 * KIB));
        log.append(delivery("b0", KIB));
        backlog.add(delivery("u1", 2 * KIB));

        backlog.trim(log.head());

        assertThat(takeAll(backlog, log)).containsExactly("reload at b0", "u1");
        assertThat(counters.dropped.get(DropReason.QUEUE_FULL).sum()).isEqualTo(2);
        assertThat(backlog.pendingBytes(log.head())).isZero();
    }

    @Test
    void oneEventLargerThanTheBound_isStillDelivered() {
        BroadcastLog log = new BroadcastLog(64);
        SinkBacklog backlog = new SinkBacklog(log, 64, 4 * KIB, counters, "alice");
        log.append(delivery("big", 16 * KIB));

        assertThat(backlog.overBound(log.head())).isFalse();
        assertThat(takeAll(backlog, log)).containsExactly("big");
    }

    @Test
    void theLogKeepsAtMostItsBytes_theNewestAlways_andEvictedBroadcastsKeepTheirIds() {
        BroadcastLog log = new BroadcastLog(64, 4 * KIB);
        for (int i = 0; i < 10; i++) {
            log.append(delivery("b" + i, KIB));
        }

        assertThat(log.tail()).isEqualTo(6);
        assertThat(log.get(5)).isNull();
        assertThat(log.id(5)).isEqualTo("b5");
        assertThat(log.get(6)).isNotNull();
        assertThat(log.bytes(log.tail(), log.head())).isEqualTo(4 * KIB);

        log.append(delivery("huge", 64 * KIB));
        assertThat(log.tail()).isEqualTo(10);
        assertThat(log.get(10)).isNotNull();
    }

    @Test
    void aSinkBehindTheLogsTail_losesWhatTheLogEvicted_andIsToldToReload() {
        BroadcastLog log = new BroadcastLog(64, 4 * KIB);
        // The sink's own bound is larger than the log's: only the log's eviction drops anything.
        SinkBacklog backlog = new SinkBacklog(log, 64, 64 * KIB, counters, "alice");
        for (int i = 0; i < 10; i++) {
            log.append(delivery("b" + i, KIB));
        }

        Object[] batch = new Object[16];
        backlog.take(batch, 0, log.head());
        assertThat(backlog.stale()).isTrue();
        assertThat(backlog.overBound(log.head())).isTrue();

        backlog.trim(log.head());
        assertThat(takeAll(backlog, log)).containsExactly("reload at b5", "b6", "b7", "b8", "b9");
        assertThat(counters.dropped.get(DropReason.QUEUE_FULL).sum()).isEqualTo(6);
    }

    @Test
    void aBatchStopsAtSixtyFourKiBOfData_soASinkStuckInACallbackHoldsLittleBeyondItsBound() {
        BroadcastLog log = new BroadcastLog(64);
        SinkBacklog backlog = new SinkBacklog(log, 64, 64 * KIB * 16, counters, "alice");
        for (int i = 0; i < 8; i++) {
            log.append(delivery("b" + i, 40 * KIB));
        }

        Object[] batch = new Object[16];
        assertThat(backlog.take(batch, 0, log.head())).isEqualTo(2);
        assertThat(backlog.pending(log.head())).isEqualTo(6);
    }
}

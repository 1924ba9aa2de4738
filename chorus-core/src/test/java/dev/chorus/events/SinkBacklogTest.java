package dev.chorus.events;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;

/** The merge of log and queue and its trims, including a log that moved on while a sink was looking. */
class SinkBacklogTest {

    private static final Event EVENT = Event.of("t", "x");

    private final BroadcastLog log = new BroadcastLog(4); // 16 slots
    private final HubCounters counters = new HubCounters();
    private final SinkBacklog backlog = new SinkBacklog(log, 4, counters, "alice");

    private void broadcast(int from, int to) {
        for (int i = from; i < to; i++) {
            log.append(new Delivery("b" + i, EVENT));
        }
    }

    private List<String> takeAll() {
        Object[] batch = new Object[64];
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
    void aTrimAtAHeadTheLogHasLongPassed_dropsUpToTheCurrentHead_andOwesTheNewestReadableId() {
        assertThat(log.length()).isEqualTo(16);
        broadcast(0, 40);

        backlog.trim(20); // a head read before 20 more appends: b15, its newest drop, is overwritten

        assertThat(backlog.pending(log.head())).isEqualTo(4);
        assertThat(counters.dropped.get(DropReason.QUEUE_FULL).sum()).isEqualTo(36);
        assertThat(takeAll()).containsExactly("reload at b35", "b36", "b37", "b38", "b39");
        assertThat(counters.reloadsSent.sum()).isEqualTo(1);
    }

    @Test
    void aTakeThatFindsItsBroadcastOverwritten_saysSo_andTakesNothingFromTheLog() {
        backlog.add(new Delivery("u0", EVENT));
        broadcast(0, 40);

        Object[] batch = new Object[8];
        int taken = backlog.take(batch, 0, log.head());

        assertThat(backlog.stale()).isTrue();
        assertThat(taken).isEqualTo(1);
        assertThat(((Delivery) batch[0]).id()).isEqualTo("u0");
        backlog.trim(log.head());
        assertThat(backlog.take(batch, taken, log.head())).isEqualTo(6);
        assertThat(backlog.stale()).isFalse();
        assertThat(Arrays.stream(batch, 1, 6).map(i -> i instanceof Reload r ? "reload at " + r.id() : i))
                .containsExactly(
                        "reload at b35",
                        new Delivery("b36", EVENT),
                        new Delivery("b37", EVENT),
                        new Delivery("b38", EVENT),
                        new Delivery("b39", EVENT));
    }

    @Test
    void queuedItems_comeBetweenTheBroadcastsAroundThem_andReloadsBeforeADroppedEventGoWithIt() {
        broadcast(0, 1);
        backlog.add(new Reload(Reload.Reason.LOSS_DETECTED, "loss", "r1"));
        counters.reloadsSent.increment();
        backlog.add(new Delivery("u1", EVENT));
        broadcast(1, 3);
        backlog.add(new Delivery("u2", EVENT));
        broadcast(3, 5);

        // b0 r1 u1 b1 b2 u2 b3 b4: 7 events over a capacity of 4 drop b0, u1, b1, and the reload among them.
        backlog.trim(log.head());

        assertThat(takeAll()).containsExactly("reload at b1", "b2", "u2", "b3", "b4");
        assertThat(counters.reloadsSent.sum()).isEqualTo(1);
        assertThat(counters.dropped.get(DropReason.QUEUE_FULL).sum()).isEqualTo(3);
    }
}

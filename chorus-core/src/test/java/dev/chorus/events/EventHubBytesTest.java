package dev.chorus.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusConfig;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.local.LocalCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Issue 20: large events are bounded by bytes in a hub's history and in every sink's backlog. */
class EventHubBytesTest {

    private static final int KIB = 1024;
    private static final Identity ALICE = Identity.inTenant("acme", "alice");

    private final LocalCluster cluster = LocalCluster.create("events_bytes_test");
    private final List<AutoCloseable> closing = new ArrayList<>();
    private final CountDownLatch release = new CountDownLatch(1);

    @AfterEach
    void close() throws Exception {
        release.countDown();
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private EventHub hub(EventHub.Builder builder) {
        EventHub hub = builder.heartbeat(Duration.ofHours(1)).build();
        closing.add(hub);
        return hub;
    }

    private Backplane backplane() {
        Backplane backplane = cluster.join(ReplicaId.random("a")).backplane();
        closing.add(backplane);
        return backplane;
    }

    private static Event large(String name, int bytes) {
        byte[] data = new byte[bytes];
        data[0] = (byte) name.charAt(0);
        return new Event(name, data);
    }

    @Test
    void aStalledSinkPastItsByteBound_dropsTheOldest_andIsToldToReload() throws Exception {
        EventHub hub = hub(EventHub.builder(backplane()).queueBytes(64 * KIB));
        CountDownLatch entered = new CountDownLatch(1);
        List<Object> timeline = new java.util.concurrent.CopyOnWriteArrayList<>();
        Registration slow = hub.register(ALICE, new Sink() {
            @Override
            public void onEvent(Delivery delivery) {
                timeline.add(delivery.event().type());
                entered.countDown();
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }

            @Override
            public void onReload(Reload reload) {
                timeline.add(reload.reason());
            }

            @Override
            public void onClosed(String reason) {}
        });
        hub.broadcast(large("held", 16 * KIB));
        assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();

        // 30 broadcasts and 30 tenant events of 16 KiB: far under the count, far over 64 KiB.
        for (int i = 0; i < 30; i++) {
            hub.broadcast(large("b" + i, 16 * KIB));
            hub.toTenant("acme", large("t" + i, 16 * KIB));
        }

        assertThat(slow.queued()).isLessThanOrEqualTo(4);
        EventHubStats stats = hub.stats();
        assertThat(stats.dropped(DropReason.QUEUE_FULL)).isEqualTo(56);
        release.countDown();
        await().atMost(Duration.ofSeconds(20)).until(() -> timeline.size() == 6);
        assertThat(timeline).containsExactly("held", Reload.Reason.QUEUE_OVERFLOW, "b28", "t28", "b29", "t29");
    }

    @Test
    void theHistoryKeepsAtMostItsBytes_andCountsWhatItEvictedEarly() {
        ChorusConfig config = ChorusConfig.from(
                Map.of(ChorusConfig.EVENTS_HISTORY_BYTES, "256KiB", ChorusConfig.EVENTS_QUEUE_BYTES, "128KiB")::get);
        EventHub hub = hub(EventHub.builder(backplane()).config(config));
        String before = hub.register(ALICE, new RecordingSink()).position();

        for (int i = 0; i < 100; i++) {
            hub.broadcast(large("e" + i, 16 * KIB));
        }

        EventHubStats stats = hub.stats();
        assertThat(stats.historyEvents()).isEqualTo(16);
        assertThat(stats.historyBytes()).isEqualTo(256 * KIB);
        assertThat(stats.historyEvicted()).isEqualTo(84);
        RecordingSink resumed = new RecordingSink();
        hub.resume(ALICE, resumed, before);
        await().atMost(Duration.ofSeconds(10)).until(() -> !resumed.reloads().isEmpty());
        assertThat(resumed.reloads().get(0).reason()).isEqualTo(Reload.Reason.HISTORY_TOO_SHORT);
    }
}

package dev.chorus.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.local.LocalCluster;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 18: a closed sink is held by nothing in the hub, whatever path closed it and whether or not a
 * broadcast came after. The server's sink holds its socket and request, so anything the hub keeps of a
 * closed sink is a socket leaked for ever.
 */
class EventHubReleaseTest {

    private static final int SINKS = 2_000;

    private final LocalCluster cluster = LocalCluster.create("release_test");
    private final GatedBackplane a =
            new GatedBackplane(cluster.join(ReplicaId.random("a")).backplane());
    private final Backplane b = cluster.join(ReplicaId.random("b")).backplane();
    private final EventHub hub =
            EventHub.builder(a).heartbeat(Duration.ofHours(1)).build();
    private final EventHub other =
            EventHub.builder(b).heartbeat(Duration.ofHours(1)).build();

    @AfterEach
    void close() {
        hub.close();
        other.close();
        a.close();
        b.close();
    }

    @Test
    void register_closedWithoutAnyBroadcast_holdsNothingOfTheSinks() {
        List<WeakReference<Sink>> sinks = new ArrayList<>();
        for (int i = 0; i < SINKS; i++) {
            Sink sink = new RecordingSink();
            sinks.add(new WeakReference<>(sink));
            hub.register(Identity.of("user-" + i, "tenant-" + (i % 7)), sink).close();
        }

        assertReleased(sinks);
        assertThat(hub.idleSinks().size()).isZero();
        assertThat(hub.stats().sinks()).isZero();
    }

    @Test
    void resume_closedWhileAheadOfThisReplica_holdsNothingOfTheSinks() {
        await().atMost(Duration.ofSeconds(10))
                .until(() -> hub.stats().origins() == 2 && other.stats().origins() == 2);
        // An id from a replica that has seen more than this one: the hub queues such a sink's broadcasts
        // one by one, from a list of its own.
        a.hold();
        String ahead = awaitIdFrom(other);
        List<WeakReference<Sink>> sinks = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            Sink sink = new RecordingSink();
            sinks.add(new WeakReference<>(sink));
            hub.resume(Identity.of("user-" + i), sink, ahead).close();
        }

        assertReleased(sinks);
        a.release();
    }

    @Test
    void closedSinks_amongOpenOnes_neverOutnumberThem_andOpenOnesStillGetBroadcasts() {
        List<RecordingSink> open = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            RecordingSink sink = new RecordingSink();
            open.add(sink);
            hub.register(Identity.of("stays-" + i), sink);
        }
        List<WeakReference<Sink>> closed = new ArrayList<>();
        for (int i = 0; i < SINKS; i++) {
            Sink sink = new RecordingSink();
            closed.add(new WeakReference<>(sink));
            hub.register(Identity.of("leaves-" + i), sink).close();
            assertThat(hub.idleSinks().size()).isLessThanOrEqualTo(2 * 100 + 1);
        }

        hub.broadcast(Event.of("t", "after the churn"));

        await().atMost(Duration.ofSeconds(10))
                .until(() -> open.stream().allMatch(s -> s.texts().contains("after the churn")));
        assertReleased(closed);
    }

    private String awaitIdFrom(EventHub source) {
        RecordingSink probe = new RecordingSink();
        Registration registration = source.register(Identity.of("probe"), probe);
        source.broadcast(Event.of("t", "unseen by the other replica"));
        await().atMost(Duration.ofSeconds(10)).until(() -> probe.deliveries().size() == 1);
        registration.close();
        return probe.deliveries().getFirst().id();
    }

    private static void assertReleased(List<WeakReference<Sink>> sinks) {
        await().atMost(Duration.ofSeconds(20))
                .pollInterval(Duration.ofMillis(50))
                .until(() -> {
                    System.gc();
                    return sinks.stream().allMatch(ref -> ref.get() == null);
                });
    }
}

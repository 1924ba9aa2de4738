package dev.chorus.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.local.LocalCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.awaitility.core.ConditionFactory;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Broadcasts go through the hub's shared log, user and group events through each sink's own queue: every
 * sink still gets both in the hub's order, and the overflow policies count and signal exactly as when
 * every event was queued per sink.
 */
class EventHubBroadcastLogTest {

    private static final Identity ALICE = Identity.of("alice", "acme");

    private final LocalCluster cluster = LocalCluster.create("events_log_test");
    private final List<AutoCloseable> closing = new ArrayList<>();
    private final List<StalledSink> stalled = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        stalled.forEach(s -> s.release.countDown());
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private Backplane join(String name) {
        Backplane backplane = cluster.join(ReplicaId.random(name)).backplane();
        closing.add(backplane);
        return backplane;
    }

    private EventHub hub(Backplane backplane, UnaryOperator<EventHub.Builder> tweak) {
        EventHub hub = tweak.apply(EventHub.builder(backplane).heartbeat(Duration.ofHours(1)))
                .build();
        closing.add(hub);
        return hub;
    }

    private EventHub hub(int capacity, OverflowPolicy policy) {
        return hub(join("a"), b -> b.queueCapacity(capacity).overflowPolicy(policy));
    }

    private static ConditionFactory waiting() {
        return await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(5));
    }

    /** A sink of {@code identity} stuck in the callback of the broadcast "held" until the test ends. */
    private StalledSink stall(EventHub hub, Identity identity) throws InterruptedException {
        StalledSink sink = new StalledSink();
        stalled.add(sink);
        sink.registration = hub.register(identity, sink);
        hub.broadcast(Event.of("t", "held"));
        assertThat(sink.entered.await(10, TimeUnit.SECONDS)).isTrue();
        return sink;
    }

    /**
     * Publishes one event per letter: b a broadcast, u an event to alice, g one to her group, x one to
     * someone else. Returns the texts alice may see, in order.
     */
    private static List<String> publish(EventHub hub, String pattern) {
        return publish(hub, pattern, null);
    }

    /** {@link #publish}, each event alice may see once {@code watcher} has had the one before. */
    private static List<String> publish(EventHub hub, String pattern, @Nullable WatcherSink watcher) {
        List<String> visible = new ArrayList<>();
        for (int k = 0; k < pattern.length(); k++) {
            char kind = pattern.charAt(k);
            String text = kind + "-" + k;
            switch (kind) {
                case 'b' -> hub.broadcast(Event.of("t", text));
                case 'u' -> hub.toUser("alice", Event.of("t", text));
                case 'g' -> hub.toGroup("acme", Event.of("t", text));
                case 'x' -> hub.toUser("bob", Event.of("t", text));
                default -> throw new IllegalArgumentException(pattern);
            }
            if (kind != 'x') {
                visible.add(text);
                if (watcher != null) {
                    watcher.awaitNext();
                }
            }
        }
        return visible;
    }

    @ParameterizedTest
    @ValueSource(strings = {"bubgbubb", "uuuubbbb", "bbbbuuuu", "ubgxubgxubgxubg", "gggbbbbbbb", "bub", "bbbbb"})
    void dropOldest_dropsTheOldestOfBothSources_andReloadsAtTheNewestDroppedId(String pattern) throws Exception {
        int capacity = 4;
        EventHub hub = hub(capacity, OverflowPolicy.DROP_OLDEST);
        WatcherSink watcher = new WatcherSink(); // same streams, never behind: tells each event's id
        hub.register(ALICE, watcher);
        StalledSink slow = stall(hub, ALICE);
        watcher.awaitNext();

        List<String> visible = publish(hub, pattern, watcher);

        int kept = Math.min(visible.size(), capacity);
        int dropped = visible.size() - kept;
        EventHubStats stats = hub.stats();
        assertThat(slow.registration.queued()).isEqualTo(kept);
        assertThat(stats.dropped(DropReason.QUEUE_FULL)).isEqualTo(dropped);
        assertThat(stats.queueHighWaterMark()).isEqualTo(kept);
        assertThat(stats.reloadsSent()).isZero();

        slow.release.countDown();
        String last = visible.getLast();
        waiting().until(() -> slow.texts().contains(last));

        List<String> expected = new ArrayList<>();
        expected.add("held");
        if (dropped > 0) {
            expected.add("reload at " + visible.get(dropped - 1));
        }
        expected.addAll(visible.subList(dropped, visible.size()));
        assertThat(describe(slow.timeline, watcher)).containsExactlyElementsOf(expected);
        assertThat(slow.reloads()).allSatisfy(r -> assertThat(r.reason()).isEqualTo(Reload.Reason.QUEUE_OVERFLOW));
        assertThat(hub.stats().reloadsSent()).isEqualTo(dropped > 0 ? 1 : 0);
        assertThat(hub.stats().delivered()).isEqualTo(2L + visible.size() + kept);
        assertThat(slow.registration.position()).isEqualTo(watcher.lastId());
    }

    /** Texts, and each reload as "reload at <text of the event whose id it carries>". */
    private static List<String> describe(List<Object> timeline, RecordingSink watcher) {
        Map<String, String> textById = new HashMap<>();
        watcher.deliveries().forEach(d -> textById.put(d.id(), d.event().text()));
        return timeline.stream()
                .map(item -> switch (item) {
                    case Delivery d -> d.event().text();
                    case Reload r -> "reload at " + textById.get(r.id());
                    default -> item.toString();
                })
                .toList();
    }

    @Test
    void aSinkFarBehindTheLog_skipsToTheNewestItHolds() throws Exception {
        EventHub hub = hub(4, OverflowPolicy.DROP_OLDEST);
        WatcherSink watcher = new WatcherSink();
        hub.register(ALICE, watcher);
        StalledSink slow = stall(hub, ALICE);
        watcher.awaitNext();

        // Far more than the log keeps: the sink's cursor points at broadcasts long overwritten.
        List<String> visible = publish(hub, "b".repeat(500) + "u" + "b".repeat(500) + "ub", watcher);
        assertThat(hub.stats().dropped(DropReason.QUEUE_FULL)).isEqualTo(visible.size() - 4);

        slow.release.countDown();
        waiting().until(() -> slow.texts().contains(visible.getLast()));
        assertThat(describe(slow.timeline, watcher))
                .containsExactly(
                        "held", "reload at " + visible.get(visible.size() - 5), "b-999", "b-1000", "u-1001", "b-1002");
    }

    @Test
    void queued_countsTheLogAndTheQueue_upToTheCapacity() throws Exception {
        EventHub hub = hub(4, OverflowPolicy.DROP_OLDEST);
        StalledSink slow = stall(hub, ALICE);
        assertThat(slow.registration.queued()).isZero();

        List<Integer> seen = new ArrayList<>();
        for (char kind : "bugxbbb".toCharArray()) {
            publish(hub, String.valueOf(kind));
            seen.add(slow.registration.queued());
        }

        assertThat(seen).containsExactly(1, 2, 3, 3, 4, 4, 4);
        slow.release.countDown();
        waiting().until(() -> slow.registration.queued() == 0 && slow.texts().size() == 5);
    }

    @Test
    void disconnect_closesASinkStuckInACallback_withinAQuarterCapacityOfBroadcasts() throws Exception {
        int capacity = 8;
        EventHub hub = hub(capacity, OverflowPolicy.DISCONNECT);
        RecordingSink fast = new RecordingSink();
        hub.register(Identity.of("fast"), fast);
        StalledSink slow = stall(hub, ALICE); // and stays stuck: only the hub can notice

        publish(hub, "bubgbbbb");
        assertThat(slow.registration.isOpen()).isTrue();
        assertThat(slow.registration.queued()).isEqualTo(capacity);
        int more = 0;
        while (slow.registration.isOpen() && more < capacity) {
            hub.broadcast(Event.of("t", "more-" + more++));
        }

        assertThat(more).isLessThanOrEqualTo(capacity / 4);
        assertThat(slow.registration.queued()).isZero();
        EventHubStats stats = hub.stats();
        assertThat(stats.dropped(DropReason.SINK_DISCONNECTED)).isEqualTo(capacity);
        assertThat(stats.dropped(DropReason.QUEUE_FULL)).isZero();
        assertThat(stats.sinks()).isEqualTo(1);
        slow.release.countDown();
        waiting().until(() -> slow.timeline.size() == 2);
        assertThat(slow.timeline.get(0))
                .isInstanceOfSatisfying(
                        Delivery.class, d -> assertThat(d.event().text()).isEqualTo("held"));
        assertThat(slow.timeline.get(1).toString()).startsWith("closed: ").contains(capacity + " events behind");
        String lastMore = "more-" + (more - 1);
        waiting().until(() -> fast.texts().contains(lastMore));
    }

    @Test
    void disconnect_byAUserEventOnAFullBacklog_isImmediate() throws Exception {
        EventHub hub = hub(4, OverflowPolicy.DISCONNECT);
        StalledSink slow = stall(hub, ALICE);

        publish(hub, "bbbb");
        assertThat(slow.registration.isOpen()).isTrue();
        publish(hub, "u");

        assertThat(slow.registration.isOpen()).isFalse();
        assertThat(hub.stats().dropped(DropReason.SINK_DISCONNECTED)).isEqualTo(4);
        assertThat(hub.stats().sinks()).isZero();
    }

    /**
     * Publishers on several threads, user and group events among the broadcasts, many sinks: each sink
     * receives each of its events exactly once, and all sinks see them in one order, the hub's.
     */
    @Test
    void concurrentPublishers_everySinkGetsEveryEventOnce_inOneOrder() throws Exception {
        EventHub hub = hub(join("a"), b -> b.queueCapacity(10_000));
        int sinks = 100;
        int threads = 4;
        int perThread = 1_000;
        List<RecordingSink> recorders = new ArrayList<>();
        for (int i = 0; i < sinks; i++) {
            RecordingSink sink = new RecordingSink();
            hub.register(i % 2 == 0 ? Identity.of("user-" + i, "even") : Identity.of("user-" + i), sink);
            recorders.add(sink);
        }
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Thread> publishers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            publishers.add(Thread.ofPlatform().start(() -> {
                awaitBarrier(start);
                for (int k = 0; k < perThread; k++) {
                    hub.broadcast(Event.of("t", thread + ":" + k));
                    if (k % 4 == 0) {
                        hub.toGroup("even", Event.of("t", thread + ":" + k + ":even"));
                    }
                }
            }));
        }
        for (Thread publisher : publishers) {
            publisher.join();
        }
        int broadcasts = threads * perThread;
        int groupEvents = threads * perThread / 4;
        for (int i = 0; i < sinks; i++) {
            RecordingSink sink = recorders.get(i);
            int expected = broadcasts + (i % 2 == 0 ? groupEvents : 0);
            waiting().until(() -> sink.timeline.size() >= expected);
        }

        List<String> evenOrder = recorders.get(0).texts();
        List<String> oddOrder = recorders.get(1).texts();
        assertThat(evenOrder).hasSize(broadcasts + groupEvents).doesNotHaveDuplicates();
        assertThat(oddOrder)
                .isEqualTo(evenOrder.stream().filter(t -> !t.endsWith(":even")).toList());
        for (int t = 0; t < threads; t++) {
            String prefix = t + ":";
            assertThat(evenOrder.stream().filter(s -> s.startsWith(prefix)).toList())
                    .isEqualTo(java.util.stream.IntStream.range(0, perThread)
                            .boxed()
                            .flatMap(k -> k % 4 == 0
                                    ? java.util.stream.Stream.of(prefix + k, prefix + k + ":even")
                                    : java.util.stream.Stream.of(prefix + k))
                            .toList());
        }
        for (int i = 0; i < sinks; i++) {
            assertThat(recorders.get(i).texts()).as("sink %d", i).isEqualTo(i % 2 == 0 ? evenOrder : oddOrder);
        }
        assertThat(hub.stats().dropped(DropReason.QUEUE_FULL)).isZero();
        assertThat(hub.stats().delivered()).isEqualTo((long) sinks * broadcasts + (long) sinks / 2 * groupEvents);
    }

    /**
     * Pairs of broadcasts a random pause apart, so the second often lands while sinks are running out of
     * work after the first; then every sink must get the second without any further broadcast to wake it.
     * A lost wake-up leaves some sink without it, which the round's latch reports.
     */
    @Test
    void broadcastsLandingWhileSinksGoIdle_reachEverySinkWithoutAnotherWakeUp() throws Exception {
        EventHub hub = hub(join("a"), b -> b.queueCapacity(100_000));
        int sinks = 50;
        AtomicReference<Round> round = new AtomicReference<>(new Round("none", new CountDownLatch(0)));
        List<RecordingSink> recorders = new ArrayList<>();
        for (int i = 0; i < sinks; i++) {
            RecordingSink sink = new RecordingSink() {
                @Override
                public void onEvent(Delivery delivery) {
                    super.onEvent(delivery);
                    Round current = round.get();
                    if (delivery.event().text().equals(current.marker())) {
                        current.reached().countDown();
                    }
                }
            };
            hub.register(Identity.of("user-" + i), sink);
            recorders.add(sink);
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int published = 0;
        for (int r = 0; r < 2_000; r++) {
            Round current = new Round(Integer.toString(published + 1), new CountDownLatch(sinks));
            round.set(current);
            hub.broadcast(Event.of("t", Integer.toString(published++)));
            for (int spin = random.nextInt(3_000); spin > 0; spin--) {
                Thread.onSpinWait();
            }
            if (r % 7 == 0) {
                hub.toUser("user-" + random.nextInt(sinks), Event.of("t", "direct-" + r));
            }
            hub.broadcast(Event.of("t", Integer.toString(published++)));
            assertThat(current.reached().await(10, TimeUnit.SECONDS))
                    .as("every sink reached broadcast %s", current.marker())
                    .isTrue();
        }
        List<String> all = java.util.stream.IntStream.range(0, published)
                .mapToObj(Integer::toString)
                .toList();
        for (RecordingSink sink : recorders) {
            assertThat(sink.texts().stream().filter(t -> !t.startsWith("direct-")))
                    .containsExactlyElementsOf(all);
        }
    }

    private record Round(String marker, CountDownLatch reached) {}

    /**
     * A client resumed on a replica behind it: that replica queues its broadcasts one by one (merged ids,
     * events the client had skipped) until it catches up, then the sink reads the log like any other.
     */
    @Test
    void aSinkResumedAheadOfItsReplica_skipsWhatItHad_thenReadsTheLogOnceTheReplicaCaughtUp() throws Exception {
        EventHub onA = hub(join("a"), b -> b);
        GatedBackplane b = new GatedBackplane(join("b"));
        EventHub onB = hub(b, x -> x);
        waiting().until(() -> onA.stats().origins() == 2 && onB.stats().origins() == 2);
        RecordingSink first = new RecordingSink();
        onA.register(ALICE, first);

        b.hold();
        onA.broadcast(Event.of("t", "a1"));
        onA.toUser("alice", Event.of("t", "a2"));
        waiting().until(() -> first.texts().contains("a2"));
        String lastId = first.lastId();

        RecordingSink resumed = new RecordingSink();
        Registration registration = onB.resume(ALICE, resumed, lastId);
        onB.broadcast(Event.of("t", "b1")); // B is behind the client: a merged id
        onB.toUser("alice", Event.of("t", "b2"));
        b.release(); // a1 and a2 arrive: the client had them
        onA.broadcast(Event.of("t", "a3")); // B has caught up: the sink reads the log again
        waiting().until(() -> resumed.texts().contains("a3"));
        onB.broadcast(Event.of("t", "b3"));
        onB.toGroup("acme", Event.of("t", "b4"));
        onB.broadcast(Event.of("t", "b5"));

        waiting().until(() -> resumed.texts().contains("b5"));
        assertThat(resumed.texts()).containsExactly("b1", "b2", "a3", "b3", "b4", "b5");
        assertThat(resumed.reloads()).isEmpty();
        EventIds.Cursor from = EventIds.decode(lastId);
        for (Delivery delivery : resumed.deliveries()) {
            Position at = EventIds.decode(delivery.id()).position();
            assertThat(at.covers(from.position()))
                    .as(
                            "the id of %s covers the id resumed from",
                            delivery.event().text())
                    .isTrue();
        }
        assertThat(registration.position()).isEqualTo(resumed.lastId());
    }

    private static void awaitBarrier(CyclicBarrier barrier) {
        try {
            barrier.await(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("the other thread never arrived", e);
        }
    }

    /** A sink that lets the test wait for each event it receives. */
    private static final class WatcherSink extends RecordingSink {
        private final Semaphore received = new Semaphore(0);

        @Override
        public void onEvent(Delivery delivery) {
            super.onEvent(delivery);
            received.release();
        }

        void awaitNext() {
            try {
                assertThat(received.tryAcquire(10, TimeUnit.SECONDS)).isTrue();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    /** A sink whose first event blocks it until released: a client that stopped reading. */
    private static final class StalledSink extends RecordingSink {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        Registration registration;

        @Override
        public void onEvent(Delivery delivery) {
            super.onEvent(delivery);
            entered.countDown();
            try {
                release.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.backplane.Backplane;
import dev.chorus.events.Delivery;
import dev.chorus.events.DropReason;
import dev.chorus.events.Event;
import dev.chorus.events.EventHub;
import dev.chorus.events.Identity;
import dev.chorus.events.OverflowPolicy;
import dev.chorus.events.Registration;
import dev.chorus.events.Reload;
import dev.chorus.events.Sink;
import dev.chorus.health.Health;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.assertj.core.api.Assumptions;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The behaviour of {@link EventHub} on every transport, three replicas each, written once: a transport's
 * test extends it and returns a fresh {@link BackplaneCompatibilityKit.ClusterFixture} from {@link
 * #newCluster}. Fault tests run when the fixture offers {@link BackplaneCompatibilityKit.Faults}.
 */
public abstract class EventHubCompatibilityKit {

    /** Creates this test's cluster; {@code testName} helps name its channel or schema. */
    protected abstract BackplaneCompatibilityKit.ClusterFixture newCluster(String testName) throws Exception;

    /** How long to wait for delivery or recovery. */
    protected Duration patience() {
        return Duration.ofSeconds(30);
    }

    private BackplaneCompatibilityKit.ClusterFixture cluster;
    private final List<Backplane> backplanes = new ArrayList<>();
    private final List<EventHub> hubs = new ArrayList<>();

    @BeforeEach
    void createCluster(TestInfo info) throws Exception {
        cluster = newCluster(info.getTestMethod().map(m -> m.getName()).orElse("test"));
    }

    @AfterEach
    void closeCluster() throws Exception {
        hubs.forEach(EventHub::close);
        backplanes.forEach(Backplane::close);
        cluster.close();
    }

    private ConditionFactory waiting() {
        return await().atMost(patience()).pollInterval(Duration.ofMillis(10));
    }

    /** Starts {@code count} healthy replicas with a hub each, and waits until every hub knows every other. */
    private List<EventHub> hubs(int count, UnaryOperator<EventHub.Builder> tweak) {
        List<Backplane> started = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            started.add(cluster.join());
        }
        backplanes.addAll(started);
        for (Backplane backplane : started) {
            waiting().until(() -> backplane.health().isHealthy());
        }
        List<EventHub> created = new ArrayList<>();
        for (Backplane backplane : started) {
            created.add(tweak.apply(EventHub.builder(backplane).heartbeat(Duration.ofMillis(200)))
                    .build());
        }
        hubs.addAll(created);
        for (EventHub hub : created) {
            waiting().until(() -> hub.stats().origins() == count);
        }
        return created;
    }

    private List<EventHub> hubs(int count) {
        return hubs(count, b -> b);
    }

    /** Each hub broadcasts {@code marker-<i>}; returns when {@code sinks} all have every hub's marker. */
    private void markEnd(List<EventHub> from, String marker, List<RecordingSink> sinks) {
        for (int i = 0; i < from.size(); i++) {
            from.get(i).broadcast(Event.of("end", marker + "-" + i));
        }
        for (RecordingSink sink : sinks) {
            waiting()
                    .until(() -> sink.texts().stream()
                                    .filter(t -> t.startsWith(marker + "-"))
                                    .count()
                            == from.size());
        }
    }

    @Test
    void broadcast_reachesEverySinkOnEveryReplicaExactlyOnceInEachPublishersOrder() {
        List<EventHub> hubs = hubs(3);
        List<RecordingSink> sinks = new ArrayList<>();
        for (int i = 0; i < hubs.size(); i++) {
            for (int j = 0; j < 2; j++) {
                RecordingSink sink = new RecordingSink();
                hubs.get(i).register(Identity.of("user-" + i + "-" + j), sink);
                sinks.add(sink);
            }
        }

        for (int k = 0; k < 20; k++) {
            for (int i = 0; i < hubs.size(); i++) {
                hubs.get(i).broadcast(Event.of("tick", "r" + i + "-" + k));
            }
        }
        markEnd(hubs, "end", sinks);

        for (RecordingSink sink : sinks) {
            List<String> events =
                    sink.texts().stream().filter(t -> t.startsWith("r")).toList();
            assertThat(events).hasSize(60).doesNotHaveDuplicates();
            for (int i = 0; i < hubs.size(); i++) {
                String prefix = "r" + i + "-";
                assertThat(events.stream().filter(t -> t.startsWith(prefix)).toList())
                        .containsExactlyElementsOf(java.util.stream.IntStream.range(0, 20)
                                .mapToObj(k -> prefix + k)
                                .toList());
            }
            assertThat(sink.reloads()).isEmpty();
        }
        assertThat(hubs.get(0).stats().published()).isEqualTo(21);
        assertThat(hubs.get(1).stats().received()).isEqualTo(42);
    }

    @Test
    void userAndGroupEvents_reachExactlyTheMatchingSinks_andNoOtherGroupsOrUsers() {
        List<EventHub> hubs = hubs(3);
        List<RecordingSink> sinks = new ArrayList<>();
        List<Identity> identities = new ArrayList<>();
        for (int r = 0; r < hubs.size(); r++) {
            for (int j = 0; j < 6; j++) {
                int n = r * 6 + j;
                // 7 users spread over replicas (some on several), each sink in 2 of 6 groups.
                Identity identity = Identity.of("u" + n % 7, "g" + n % 6, "g" + (n + 2) % 6);
                RecordingSink sink = new RecordingSink();
                hubs.get(r).register(identity, sink);
                sinks.add(sink);
                identities.add(identity);
            }
        }

        // u7 and g6 have no sink anywhere: their events must reach no one.
        for (int u = 0; u < 8; u++) {
            for (int k = 0; k < 2; k++) {
                hubs.get(u % 3).toUser("u" + u, Event.of("user", "user:u" + u + ":" + k));
            }
        }
        for (int g = 0; g < 7; g++) {
            for (int k = 0; k < 2; k++) {
                hubs.get((g + 1) % 3).toGroup("g" + g, Event.of("group", "group:g" + g + ":" + k));
            }
        }
        markEnd(hubs, "end", sinks);

        for (int s = 0; s < sinks.size(); s++) {
            Identity identity = identities.get(s);
            Set<String> expected = new LinkedHashSet<>();
            for (int k = 0; k < 2; k++) {
                expected.add("user:" + identity.userId() + ":" + k);
                for (String group : identity.groups()) {
                    expected.add("group:" + group + ":" + k);
                }
            }
            List<String> got = sinks.get(s).texts().stream()
                    .filter(t -> !t.startsWith("end"))
                    .toList();
            assertThat(got).as("sink of %s", identity).doesNotHaveDuplicates();
            assertThat(new HashSet<>(got)).as("sink of %s", identity).isEqualTo(expected);
        }
    }

    /**
     * Broadcasts and user and group events from every replica, interleaved: the sinks of one identity on
     * one replica all get the same events in the same order (that replica's), each publisher's in its order.
     */
    @Test
    void sinksOnOneReplica_getBroadcastsAndTheirOwnEventsInOneOrder() {
        List<EventHub> hubs = hubs(3);
        Identity alice = Identity.of("alice", "acme");
        List<List<RecordingSink>> perReplica = new ArrayList<>();
        List<RecordingSink> all = new ArrayList<>();
        for (EventHub hub : hubs) {
            List<RecordingSink> sinks = new ArrayList<>();
            for (int j = 0; j < 3; j++) {
                RecordingSink sink = new RecordingSink();
                hub.register(alice, sink);
                sinks.add(sink);
            }
            perReplica.add(sinks);
            all.addAll(sinks);
        }

        for (int k = 0; k < 10; k++) {
            publishMix(hubs, "m" + k);
        }
        markEnd(hubs, "end", all);

        for (List<RecordingSink> sinks : perReplica) {
            List<String> order = sinks.get(0).texts();
            assertThat(order).hasSize(10 * 3 * 3 * 3 + 3).doesNotHaveDuplicates();
            assertThat(order).noneMatch(t -> t.contains("-bob-") || t.contains("-globex-"));
            for (RecordingSink sink : sinks) {
                assertThat(sink.texts()).isEqualTo(order);
                assertThat(sink.reloads()).isEmpty();
            }
            for (int i = 0; i < hubs.size(); i++) {
                String suffix = "-" + i + "-";
                List<String> published = new ArrayList<>();
                for (int k = 0; k < 10; k++) {
                    for (int round = 0; round < 3; round++) {
                        for (String kind : List.of("everyone", "alice", "acme")) {
                            published.add("m" + k + "-" + kind + suffix + round);
                        }
                    }
                }
                assertThat(order.stream().filter(t -> t.contains(suffix)).toList())
                        .as("hub %d's events in its order", i)
                        .isEqualTo(published);
            }
        }
    }

    @Test
    void backplaneDown_localDeliveryContinues_andTheOthersGetEverythingOrAReloadSignal() throws Exception {
        Optional<BackplaneCompatibilityKit.Faults> faults = cluster.faults();
        Assumptions.assumeThat(faults).as("fixture can cut a connection").isPresent();
        List<EventHub> hubs = hubs(3);
        List<RecordingSink> sinks = new ArrayList<>();
        for (EventHub hub : hubs) {
            RecordingSink sink = new RecordingSink();
            hub.register(Identity.of("watcher"), sink);
            sinks.add(sink);
        }
        Backplane b = backplanes.get(1);

        faults.get().disconnect(b);
        waiting().until(() -> b.health().status() == Health.Status.DEGRADED);
        for (int k = 1; k <= 5; k++) {
            hubs.get(1).broadcast(Event.of("t", "down-" + k));
        }
        // Local delivery is queued inside the call, whatever the transport does.
        waiting().until(() -> sinks.get(1).texts().size() == 5);
        assertThat(sinks.get(1).texts()).containsExactly("down-1", "down-2", "down-3", "down-4", "down-5");
        hubs.get(0).broadcast(Event.of("t", "a-during"));

        faults.get().heal(b);
        waiting().until(() -> b.health().isHealthy());
        waiting().until(() -> {
            hubs.get(1).broadcast(Event.of("t", "after-b"));
            hubs.get(0).broadcast(Event.of("t", "after-a"));
            return sinks.stream()
                    .allMatch(s -> s.texts().contains("after-a") && s.texts().contains("after-b"));
        });

        List<String> fromB = List.of("down-1", "down-2", "down-3", "down-4", "down-5");
        for (int i : new int[] {0, 2}) {
            assertEverythingOrReload(sinks.get(i), fromB, "after-b");
        }
        assertEverythingOrReload(sinks.get(1), List.of("a-during"), "after-a");
    }

    /**
     * {@code expected} (one publisher's events, in its order) arrived in order and once each before {@code
     * then}, and every one that did not is covered by a reload between the last expected event received
     * before it and the first received after it (or {@code then}). A reload anywhere else excuses nothing:
     * an event missing after the reload was skipped silently.
     */
    private static void assertEverythingOrReload(RecordingSink sink, List<String> expected, String then) {
        List<Object> timeline = List.copyOf(sink.timeline);
        int end = sink.indexOfText(timeline, then);
        int next = 0;
        boolean reloadSinceLast = false;
        for (Object item : timeline.subList(0, end)) {
            if (item instanceof Reload) {
                reloadSinceLast = true;
            } else if (item instanceof Delivery d && expected.contains(d.event().text())) {
                int at = expected.indexOf(d.event().text());
                assertThat(at)
                        .as("%s out of order or repeated in %s", d.event().text(), timeline)
                        .isGreaterThanOrEqualTo(next);
                if (at > next) {
                    assertThat(reloadSinceLast)
                            .as("missed %s silently: %s", expected.subList(next, at), timeline)
                            .isTrue();
                }
                next = at + 1;
                reloadSinceLast = false;
            }
        }
        if (next < expected.size()) {
            assertThat(reloadSinceLast)
                    .as("missed %s silently: %s", expected.subList(next, expected.size()), timeline)
                    .isTrue();
        }
    }

    /** What {@link #stall} set up: the receiving hub, its stalled sink and that sink's registration, a fast sink. */
    private record Stalled(EventHub receiver, StalledSink slow, Registration slowRegistration, RecordingSink fast) {}

    /**
     * Two hubs with queues of 8 under {@code policy}; on the receiving one a sink stalled on its first event
     * and a fast one; {@code events} broadcasts one at a time, each waited for by the fast sink so its own
     * queue never fills: only the stalled one's does.
     */
    private Stalled stall(OverflowPolicy policy, int events) throws InterruptedException {
        List<EventHub> hubs = hubs(2, b -> b.queueCapacity(8).overflowPolicy(policy));
        EventHub publisher = hubs.get(0);
        EventHub receiver = hubs.get(1);
        StalledSink slow = new StalledSink();
        Registration slowRegistration = receiver.register(Identity.of("slow"), slow);
        RecordingSink fast = new RecordingSink();
        receiver.register(Identity.of("fast"), fast);

        publisher.broadcast(Event.of("t", "e0"));
        assertThat(slow.entered.await(patience().toSeconds(), TimeUnit.SECONDS)).isTrue();
        for (int k = 1; k < events; k++) {
            String text = "e" + k;
            publisher.broadcast(Event.of("t", text));
            waiting().until(() -> fast.texts().contains(text));
        }
        return new Stalled(receiver, slow, slowRegistration, fast);
    }

    @Test
    void stalledSink_dropsItsOldestEventsAndIsToldSo_whileOthersKeepReceiving() throws Exception {
        Stalled stalled = stall(OverflowPolicy.DROP_OLDEST, 14);
        StalledSink slow = stalled.slow();

        assertThat(stalled.fast().texts()).hasSize(14);
        assertThat(stalled.slowRegistration().queued()).isEqualTo(8);
        assertThat(stalled.receiver().stats().dropped(DropReason.QUEUE_FULL)).isEqualTo(5);
        assertThat(stalled.receiver().stats().queueHighWaterMark()).isEqualTo(8);
        slow.release.countDown();
        waiting().until(() -> slow.texts().contains("e13"));
        assertThat(slow.texts()).containsExactly("e0", "e6", "e7", "e8", "e9", "e10", "e11", "e12", "e13");
        assertThat(slow.reloads()).singleElement().satisfies(r -> {
            assertThat(r.reason()).isEqualTo(Reload.Reason.QUEUE_OVERFLOW);
            // The count is in the stats and the log; the client gets a fixed sentence without internals.
            assertThat(r.detail()).doesNotContainPattern("[0-9]");
        });
        assertThat(slow.timeline.get(1)).isInstanceOf(Reload.class);
        assertThat(stalled.slowRegistration().isOpen()).isTrue();
    }

    @Test
    void stalledSink_isDisconnectedWithAReason_whileOthersKeepReceiving() throws Exception {
        Stalled stalled = stall(OverflowPolicy.DISCONNECT, 13);
        StalledSink slow = stalled.slow();

        assertThat(stalled.fast().texts()).hasSize(13);
        assertThat(stalled.slowRegistration().isOpen()).isFalse();
        assertThat(stalled.receiver().stats().dropped(DropReason.SINK_DISCONNECTED))
                .isEqualTo(8);
        assertThat(stalled.receiver().stats().sinks()).isEqualTo(1);
        slow.release.countDown();
        waiting().until(() -> slow.timeline.size() == 2);
        assertThat(slow.texts()).containsExactly("e0");
        assertThat(slow.timeline.get(1).toString()).startsWith("closed: ").contains("8 events behind");
    }

    @Test
    void resumeOnAnotherReplica_deliversExactlyTheMissedEventsItMaySee_thenLiveOnes() {
        List<EventHub> hubs = hubs(3);
        Identity alice = Identity.of("alice", "acme");
        RecordingSink first = new RecordingSink();
        Registration onA = hubs.get(0).register(alice, first);
        RecordingSink observer = new RecordingSink();
        hubs.get(2).register(Identity.of("observer"), observer);

        publishMix(hubs, "p1");
        markEnd(hubs, "end1", List.of(first, observer));
        String lastId = first.lastId();
        onA.close();
        publishMix(hubs, "p2");
        markEnd(hubs, "end2", List.of(observer));

        RecordingSink resumed = new RecordingSink();
        hubs.get(2).resume(alice, resumed, lastId);

        Set<String> expected = new HashSet<>();
        for (int i = 0; i < hubs.size(); i++) {
            for (String kind : List.of("everyone", "alice", "acme")) {
                for (int k = 0; k < 3; k++) {
                    expected.add("p2-" + kind + "-" + i + "-" + k);
                }
            }
            expected.add("end2-" + i);
        }
        waiting().until(() -> resumed.texts().size() >= expected.size());
        assertThat(resumed.reloads()).isEmpty();
        assertThat(resumed.texts()).doesNotHaveDuplicates();
        assertThat(new HashSet<>(resumed.texts())).isEqualTo(expected);
        for (int i = 0; i < hubs.size(); i++) {
            String origin = "-" + i + "-";
            List<String> fromOrigin =
                    resumed.texts().stream().filter(t -> t.contains(origin)).toList();
            List<String> published = new ArrayList<>();
            for (int k = 0; k < 3; k++) {
                for (String kind : List.of("everyone", "alice", "acme")) {
                    published.add("p2-" + kind + origin + k);
                }
            }
            assertThat(fromOrigin).as("order of hub %d", i).containsExactlyElementsOf(published);
        }
        assertThat(hubs.get(2).stats().resumesServed()).isEqualTo(1);

        hubs.get(1).toUser("alice", Event.of("t", "live"));
        waiting().until(() -> resumed.texts().contains("live"));
        assertThat(resumed.texts()).containsOnlyOnce("live");
    }

    /**
     * Issue 19: user and group ids are unique only within a tenant. Two tenants with the same user and group
     * names, events to each user, group and tenant from every replica, live and on a resume on another
     * replica: nothing crosses a tenant, whatever the names (a tenant named like another plus a separator
     * included).
     */
    @Test
    void twoTenantsWithTheSameNames_neverSeeEachOthersEvents_liveOrOnResume() {
        List<EventHub> hubs = hubs(3);
        List<String> tenants = List.of("acme", "globex", "acme/eu", "acme:1");
        Map<String, RecordingSink> live = new LinkedHashMap<>();
        Map<String, Registration> registrations = new LinkedHashMap<>();
        for (int t = 0; t < tenants.size(); t++) {
            String tenant = tenants.get(t);
            RecordingSink sink = new RecordingSink();
            live.put(tenant, sink);
            registrations.put(tenant, hubs.get(t % 3).register(Identity.inTenant(tenant, "alice", "ops"), sink));
        }
        RecordingSink outsider = new RecordingSink();
        hubs.get(1).register(Identity.of("alice", "ops"), outsider);

        publishPerTenant(hubs, tenants, "live");
        markEnd(hubs, "end1", new ArrayList<>(live.values()));
        Map<String, String> lastIds = new LinkedHashMap<>();
        live.forEach((tenant, sink) -> lastIds.put(tenant, sink.lastId()));
        registrations.values().forEach(Registration::close);
        publishPerTenant(hubs, tenants, "missed");
        markEnd(hubs, "end2", List.of(outsider));

        Map<String, RecordingSink> resumed = new LinkedHashMap<>();
        for (int t = 0; t < tenants.size(); t++) {
            String tenant = tenants.get(t);
            RecordingSink sink = new RecordingSink();
            resumed.put(tenant, sink);
            hubs.get((t + 1) % 3).resume(Identity.inTenant(tenant, "alice", "ops"), sink, lastIds.get(tenant));
        }
        for (String tenant : tenants) {
            waiting().until(() -> resumed.get(tenant).texts().contains("end2-2"));
        }

        for (String tenant : tenants) {
            for (RecordingSink sink : List.of(live.get(tenant), resumed.get(tenant))) {
                assertThat(sink.texts())
                        .as("what alice of %s received", tenant)
                        .allMatch(text -> text.startsWith("end") || text.endsWith("@" + tenant + "@"));
            }
            assertThat(resumed.get(tenant).texts())
                    .as("alice of %s missed her user, group and tenant events from every replica", tenant)
                    .filteredOn(text -> text.startsWith("missed"))
                    .hasSize(3 * 3);
        }
        assertThat(outsider.texts()).allMatch(text -> text.startsWith("end"));
    }

    /** From every hub, for every tenant: an event to its alice, to its group ops and to the tenant. */
    private static void publishPerTenant(List<EventHub> hubs, List<String> tenants, String prefix) {
        for (int i = 0; i < hubs.size(); i++) {
            for (String tenant : tenants) {
                String tag = "-" + i + "@" + tenant + "@";
                hubs.get(i).toUser(tenant, "alice", Event.of("t", prefix + "-user" + tag));
                hubs.get(i).toGroup(tenant, "ops", Event.of("t", prefix + "-group" + tag));
                hubs.get(i).toTenant(tenant, Event.of("t", prefix + "-tenant" + tag));
            }
        }
    }

    /** From every hub: 3 rounds of broadcast, to alice, to bob, to group acme, to group globex. */
    private static void publishMix(List<EventHub> hubs, String prefix) {
        for (int k = 0; k < 3; k++) {
            for (int i = 0; i < hubs.size(); i++) {
                EventHub hub = hubs.get(i);
                String suffix = "-" + i + "-" + k;
                hub.broadcast(Event.of("t", prefix + "-everyone" + suffix));
                hub.toUser("alice", Event.of("t", prefix + "-alice" + suffix));
                hub.toUser("bob", Event.of("t", prefix + "-bob" + suffix));
                hub.toGroup("acme", Event.of("t", prefix + "-acme" + suffix));
                hub.toGroup("globex", Event.of("t", prefix + "-globex" + suffix));
            }
        }
    }

    @Test
    void resume_withAMalformedAlteredOrForeignId_signalsReload_neverThrows_andKeepsTheSinkLive() {
        List<EventHub> hubs = hubs(3);
        RecordingSink probe = new RecordingSink();
        hubs.get(0).register(Identity.of("probe"), probe);
        hubs.get(0).broadcast(Event.of("t", "one"));
        waiting().until(() -> probe.texts().contains("one"));
        String valid = probe.lastId();
        char[] altered = valid.toCharArray();
        altered[valid.length() / 2] = altered[valid.length() / 2] == 'A' ? 'B' : 'A';
        Backplane stranger = cluster.joinOtherCluster();
        backplanes.add(stranger);
        EventHub foreignHub = EventHub.builder(stranger).build();
        hubs.add(foreignHub);
        String foreign =
                foreignHub.register(Identity.of("x"), new RecordingSink()).position();

        List<String> bad =
                List.of("", "definitely not an id", valid.substring(0, valid.length() - 3), new String(altered));
        List<RecordingSink> resumed = new ArrayList<>();
        for (String id : bad) {
            RecordingSink sink = new RecordingSink();
            hubs.get(1).resume(Identity.of("client"), sink, id);
            resumed.add(sink);
        }
        RecordingSink fromForeign = new RecordingSink();
        hubs.get(1).resume(Identity.of("client"), fromForeign, foreign);
        hubs.get(2).broadcast(Event.of("t", "after"));

        for (RecordingSink sink : resumed) {
            waiting().until(() -> sink.texts().contains("after"));
            assertThat(sink.timeline.get(0))
                    .isInstanceOfSatisfying(
                            Reload.class, r -> assertThat(r.reason()).isEqualTo(Reload.Reason.INVALID_ID));
            assertThat(sink.texts()).containsExactly("after");
        }
        waiting().until(() -> fromForeign.texts().contains("after"));
        assertThat(fromForeign.timeline.get(0))
                .isInstanceOfSatisfying(
                        Reload.class, r -> assertThat(r.reason()).isEqualTo(Reload.Reason.UNKNOWN_ORIGIN));
        assertThat(hubs.get(1).stats().resumesRefused()).isEqualTo(5);
    }

    /** A sink that records everything it receives, in one timeline. */
    public static class RecordingSink implements Sink {

        /** Deliveries, reloads and {@code "closed: <reason>"}, in the order received. */
        public final List<Object> timeline = new CopyOnWriteArrayList<>();

        @Override
        public void onEvent(Delivery delivery) {
            timeline.add(delivery);
        }

        @Override
        public void onReload(Reload reload) {
            timeline.add(reload);
        }

        @Override
        public void onClosed(String reason) {
            timeline.add("closed: " + reason);
        }

        /** The texts of the events received. */
        public List<String> texts() {
            return timeline.stream()
                    .filter(Delivery.class::isInstance)
                    .map(d -> ((Delivery) d).event().text())
                    .toList();
        }

        /** The reload signals received. */
        public List<Reload> reloads() {
            return timeline.stream()
                    .filter(Reload.class::isInstance)
                    .map(Reload.class::cast)
                    .toList();
        }

        /** The id of the last event received. */
        public String lastId() {
            for (int i = timeline.size() - 1; i >= 0; i--) {
                if (timeline.get(i) instanceof Delivery delivery) {
                    return delivery.id();
                }
            }
            throw new AssertionError("no event received yet");
        }

        int indexOfText(List<Object> items, String text) {
            for (int i = 0; i < items.size(); i++) {
                if (items.get(i) instanceof Delivery d && d.event().text().equals(text)) {
                    return i;
                }
            }
            throw new AssertionError(text + " never arrived: " + items);
        }
    }

    /** A sink whose first event blocks it until released: a client that stopped reading. */
    private static final class StalledSink extends RecordingSink {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

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

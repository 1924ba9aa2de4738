package dev.chorus.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.local.LocalCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Hub behaviour that needs the in-process transport's fault controls (silent drops); the behaviour every
 * transport shares is in the testkit's EventHubCompatibilityKit.
 */
class EventHubTest {

    private static final Identity ALICE = Identity.of("alice", "acme");

    private final LocalCluster cluster = LocalCluster.create("events_test");
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private Backplane join(String name) {
        Backplane backplane = cluster.join(ReplicaId.random(name)).backplane();
        closing.add(backplane);
        return backplane;
    }

    private EventHub hub(Backplane backplane, Duration heartbeat) {
        EventHub hub = EventHub.builder(backplane).heartbeat(heartbeat).build();
        closing.add(hub);
        return hub;
    }

    /** A hub whose broadcasts wake idle sinks at most once per {@code spacing}, even with a single sink. */
    private EventHub hubWakingEvery(Duration spacing) {
        EventHub hub = EventHub.builder(join("a"))
                .heartbeat(Duration.ofHours(1))
                .maxWakeDelay(spacing)
                .wakeNanosPerSink(spacing.toNanos())
                .build();
        closing.add(hub);
        return hub;
    }

    private static ConditionFactory waiting() {
        return await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5));
    }

    @Test
    void publish_queuesForLocalSinksBeforeItReturns() throws Exception {
        EventHub hub = hub(join("a"), Duration.ofHours(1));
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Registration registration = hub.register(ALICE, delivery -> {
            entered.countDown();
            awaitLatch(release);
        });
        hub.broadcast(Event.of("t", "first"));
        assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();

        hub.broadcast(Event.of("t", "second"));

        assertThat(registration.queued()).isEqualTo(1);
        release.countDown();
    }

    @Test
    void aLostEvent_tellsConnectedSinksToReload_andResumeAcrossItIsRefusedThereButServedWhereItArrived() {
        Backplane a = join("a");
        Backplane b = join("b");
        EventHub onA = hub(a, Duration.ofHours(1));
        EventHub onB = hub(b, Duration.ofHours(1));
        waiting().until(() -> onA.stats().origins() == 2 && onB.stats().origins() == 2);
        RecordingSink client = new RecordingSink();
        onB.register(ALICE, client);

        onA.broadcast(Event.of("t", "e1"));
        waiting().until(() -> client.texts().contains("e1"));
        String beforeLoss = client.lastId();
        cluster.dropNext(b.replica(), 1);
        onA.broadcast(Event.of("t", "e2"));
        onA.broadcast(Event.of("t", "e3"));

        waiting().until(() -> client.texts().contains("e3"));
        assertThat(client.texts()).containsExactly("e1", "e3");
        int reload = client.timeline.indexOf(client.reloads().get(0));
        assertThat(reload).isBetween(1, client.timeline.size() - 2);
        assertThat(client.reloads()).allSatisfy(r -> assertThat(r.reason()).isEqualTo(Reload.Reason.LOSS_DETECTED));

        RecordingSink onBAgain = new RecordingSink();
        onB.resume(ALICE, onBAgain, beforeLoss);
        RecordingSink onAAgain = new RecordingSink();
        onA.resume(ALICE, onAAgain, beforeLoss);

        waiting().until(() -> !onBAgain.timeline.isEmpty() && onAAgain.texts().size() == 2);
        assertThat(onBAgain.reloads())
                .singleElement()
                .satisfies(r -> assertThat(r.reason()).isEqualTo(Reload.Reason.LOSS_DETECTED));
        assertThat(onAAgain.texts()).containsExactly("e2", "e3");
        assertThat(onB.stats().resumesRefused()).isEqualTo(1);
        assertThat(onA.stats().resumesServed()).isEqualTo(1);
    }

    @Test
    void aLostLastEvent_isFoundByTheHeartbeat() {
        SwallowingBackplane a = new SwallowingBackplane(join("a"));
        Backplane b = join("b");
        EventHub onA = hub(a, Duration.ofMillis(50));
        EventHub onB = hub(b, Duration.ofMillis(50));
        waiting().until(() -> onA.stats().origins() == 2 && onB.stats().origins() == 2);
        RecordingSink client = new RecordingSink();
        onB.register(ALICE, client);

        // Lost above the transport: no backplane gap, and no later event to reveal it, only the heartbeat.
        a.swallowNext(HubWire.Kind.EVENT, 1);
        onA.broadcast(Event.of("t", "lost, and nothing follows it"));

        waiting().until(() -> !client.reloads().isEmpty());
        assertThat(client.reloads()).singleElement().satisfies(r -> {
            assertThat(r.reason()).isEqualTo(Reload.Reason.LOSS_DETECTED);
            assertThat(r.detail()).isEqualTo("Some events never arrived at this server; reload.");
        });
        assertThat(client.texts()).isEmpty();
        assertThat(b.stats().gaps()).isZero();
        assertThat(onB.stats().gapsDetected()).isEqualTo(1);
    }

    @Test
    void aHubFirstHeardMidStream_tellsSinksRegisteredBeforeToReload() {
        Backplane a = join("a");
        EventHub onA = hub(a, Duration.ofHours(1));
        RecordingSink client = new RecordingSink();
        onA.register(ALICE, client);
        // B's start-up SYNC and first event are lost above the transport: A's first word of B is event 2.
        SwallowingBackplane b = new SwallowingBackplane(join("b"))
                .swallowNext(HubWire.Kind.SYNC, 1)
                .swallowNext(HubWire.Kind.EVENT, 1);
        EventHub onB = hub(b, Duration.ofHours(1));
        onB.broadcast(Event.of("t", "e1"));
        onB.broadcast(Event.of("t", "e2"));

        waiting().until(() -> client.texts().contains("e2"));
        assertThat(client.timeline).hasSize(2);
        assertThat(client.timeline.get(0))
                .isInstanceOfSatisfying(
                        Reload.class, r -> assertThat(r.reason()).isEqualTo(Reload.Reason.LOSS_DETECTED));
        assertThat(a.stats().gaps()).isZero();
    }

    /** A new hub announces itself at 0 before it can publish: sinks elsewhere lose nothing and need no reload. */
    @Test
    void aHubStartedAfterSinksRegistered_costsThemNoReload() {
        Backplane a = join("a");
        EventHub onA = hub(a, Duration.ofHours(1));
        RecordingSink client = new RecordingSink();
        onA.register(ALICE, client);
        EventHub onB = hub(join("b"), Duration.ofHours(1));

        onB.broadcast(Event.of("t", "e1"));

        waiting().until(() -> client.texts().contains("e1"));
        assertThat(client.timeline).hasSize(1);
        assertThat(onA.stats().gapsDetected()).isZero();
    }

    @Test
    void position_isWhereTheClientStands_soEventsStillQueuedForItAreReplayedOnResume() {
        EventHub hub = hub(join("a"), Duration.ofHours(1));
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<Delivery> handed = new java.util.concurrent.CopyOnWriteArrayList<>();
        Registration registration = hub.register(ALICE, delivery -> {
            handed.add(delivery);
            entered.countDown();
            awaitLatch(release);
        });
        String registeredAt = registration.position();
        hub.broadcast(Event.of("t", "handed"));
        assertThat(awaitLatch(entered)).isTrue();
        hub.broadcast(Event.of("t", "queued"));

        String position = registration.position();
        registration.close(); // the client dropped before it received "queued"
        release.countDown();

        assertThat(position).isEqualTo(handed.get(0).id());
        RecordingSink resumed = new RecordingSink();
        hub.resume(ALICE, resumed, position);
        RecordingSink fromTheStart = new RecordingSink();
        hub.resume(ALICE, fromTheStart, registeredAt);
        waiting()
                .until(() -> resumed.texts().contains("queued")
                        && fromTheStart.texts().contains("queued"));
        assertThat(resumed.timeline).hasSize(1);
        assertThat(fromTheStart.texts()).containsExactly("handed", "queued");
    }

    /**
     * Closing the last sink of a user or group while another registers races on the index's list: the new
     * sink must land in a list the index still holds. Threads churn sinks of one user and group, and each
     * sends itself a marker to both while registered: a sink the index lost never gets them.
     */
    @Test
    void sinksRegisteredWhileOthersOfTheirUserClose_stillGetTheirUserAndGroupEvents() throws Exception {
        EventHub hub = hub(join("a"), Duration.ofHours(1));
        Identity who = Identity.of("churn", "churners");
        int threads = 4;
        CyclicBarrier start = new CyclicBarrier(threads);
        List<String> lost = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Thread> running = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            running.add(Thread.ofPlatform().start(() -> {
                awaitBarrier(start);
                for (int round = 0; round < 5_000 && lost.isEmpty(); round++) {
                    String user = "user-" + thread + "-" + round;
                    String group = "group-" + thread + "-" + round;
                    CountDownLatch both = new CountDownLatch(2);
                    Registration registration = hub.register(who, delivery -> {
                        String text = delivery.event().text();
                        if (text.equals(user) || text.equals(group)) {
                            both.countDown();
                        }
                    });
                    hub.toUser("churn", Event.of("t", user));
                    hub.toGroup("churners", Event.of("t", group));
                    // Closing discards what is queued: wait until the sink had both.
                    if (!awaitLatch(both)) {
                        lost.add(user);
                    }
                    registration.close();
                }
            }));
        }
        for (Thread thread : running) {
            thread.join();
        }

        assertThat(lost).as("sinks that never got their events").isEmpty();
    }

    @Test
    void aThrowingSink_isCountedAndKeepsReceiving() {
        EventHub hub = hub(join("a"), Duration.ofHours(1));
        List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        hub.register(ALICE, delivery -> {
            seen.add(delivery.event().text());
            throw new IllegalStateException("client socket broke");
        });

        hub.broadcast(Event.of("t", "one"));
        hub.broadcast(Event.of("t", "two"));

        waiting().until(() -> seen.size() == 2);
        assertThat(hub.stats().sinkErrors()).isEqualTo(2);
    }

    @Test
    void aSinkThrowingAnError_losesNothingAfterIt_andKeepsReceiving() {
        EventHub hub = hub(join("a"), Duration.ofHours(1));
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        hub.register(ALICE, delivery -> {
            String text = delivery.event().text();
            seen.add(text);
            if (text.equals("held")) {
                entered.countDown();
                awaitLatch(release);
            } else if (text.equals("fatal")) {
                throw new AssertionError("an Error, which the delivery thread does not catch");
            }
        });
        hub.broadcast(Event.of("t", "held"));
        assertThat(awaitLatch(entered)).isTrue();
        // Queued behind "held", so the delivery thread takes them in one batch with "fatal".
        hub.broadcast(Event.of("t", "fatal"));
        hub.broadcast(Event.of("t", "same batch"));
        release.countDown();
        // Awaitility would rethrow the sink's Error, which ends its delivery thread on purpose here.
        waiting().dontCatchUncaughtExceptions().until(() -> seen.contains("same batch"));

        hub.broadcast(Event.of("t", "later"));

        waiting().dontCatchUncaughtExceptions().until(() -> seen.contains("later"));
        assertThat(seen).containsExactly("held", "fatal", "same batch", "later");
    }

    @Test
    void close_tellsEverySinkAndRefusesFurtherWork() {
        EventHub hub = hub(join("a"), Duration.ofHours(1));
        RecordingSink sink = new RecordingSink();
        Registration registration = hub.register(ALICE, sink);

        hub.close();
        hub.close();

        waiting().until(() -> sink.timeline.size() == 1);
        assertThat(sink.timeline.get(0).toString()).startsWith("closed: ").contains("shutting down");
        assertThat(registration.isOpen()).isFalse();
        assertThatThrownBy(() -> hub.broadcast(Event.of("t", "late")))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("closed");
    }

    /** A race, so many rounds: each registration either fails or is closed with the hub, never left open. */
    @Test
    void close_racingRegistrations_leavesNoSinkOpen() throws Exception {
        Backplane a = join("a");
        for (int round = 0; round < 200; round++) {
            EventHub hub = EventHub.builder(a).heartbeat(Duration.ofHours(1)).build();
            List<Registration> registered = new java.util.concurrent.CopyOnWriteArrayList<>();
            CountDownLatch started = new CountDownLatch(2);
            List<Thread> registrars = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                registrars.add(Thread.ofPlatform().start(() -> {
                    started.countDown();
                    try {
                        while (true) {
                            registered.add(hub.register(ALICE, delivery -> {}));
                        }
                    } catch (ChorusException closed) {
                        // the hub closed: registering after that must fail
                    }
                }));
            }
            assertThat(awaitLatch(started)).isTrue();

            hub.close();
            for (Thread registrar : registrars) {
                registrar.join();
            }

            int round0 = round;
            assertThat(registered)
                    .as("round %d", round0)
                    .allSatisfy(r -> assertThat(r.isOpen()).isFalse());
            assertThat(hub.stats().sinks()).as("round %d", round0).isZero();
        }
    }

    /**
     * Broadcasts closer together than the wake spacing (here 200 ms, from the test's per-sink wait) reach
     * sinks that ran out of work through one deferred wake-up: awaiting each fifth event lets the sinks go
     * idle, so the next broadcasts take that path. None may be left waiting, and each sink sees them in order.
     */
    @Test
    void broadcastsCloseTogether_shareADeferredWakeUp_andEveryOneArrivesInOrder() {
        EventHub hub = hubWakingEvery(Duration.ofMillis(200));
        List<RecordingSink> sinks = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            RecordingSink sink = new RecordingSink();
            hub.register(Identity.of("user-" + i, "acme"), sink);
            sinks.add(sink);
        }
        List<String> sent = new ArrayList<>();

        for (int i = 0; i <= 20; i++) {
            sent.add("e" + i);
            hub.broadcast(Event.of("t", "e" + i));
            if (i % 5 == 0) {
                int count = sent.size();
                waiting().until(() -> sinks.stream().allMatch(s -> s.texts().size() == count));
            }
        }

        waiting().until(() -> sinks.stream().allMatch(s -> s.texts().size() == sent.size()));
        assertThat(sinks).allSatisfy(s -> assertThat(s.texts()).containsExactlyElementsOf(sent));
        assertThat(hub.stats().delivered()).isEqualTo(20L * sent.size());
    }

    @Test
    void close_whileAWakeUpIsDeferred_stillClosesEverySink() {
        EventHub hub = hubWakingEvery(Duration.ofSeconds(1));
        RecordingSink sink = new RecordingSink();
        hub.register(ALICE, sink);
        hub.broadcast(Event.of("t", "first"));
        waiting().until(() -> sink.texts().equals(List.of("first")));

        hub.broadcast(Event.of("t", "deferred"));
        hub.close();

        waiting()
                .until(() ->
                        sink.timeline.stream().anyMatch(item -> item.toString().startsWith("closed: ")));
        assertThat(sink.timeline.get(sink.timeline.size() - 1).toString()).contains("shutting down");
    }

    @Test
    void builder_rejectsBadValuesNamingThem() {
        Backplane a = join("a");

        assertThatThrownBy(() -> EventHub.builder(a).queueCapacity(0))
                .hasMessageContaining("queueCapacity must be positive, was 0");
        assertThatThrownBy(() -> EventHub.builder(a).historySize(-1)).hasMessageContaining("historySize");
        assertThatThrownBy(() -> EventHub.builder(a).historyAge(Duration.ZERO)).hasMessageContaining("historyAge");
        assertThatThrownBy(() -> EventHub.builder(a).historyAge(Duration.ofNanos(999_999)))
                .hasMessageContaining("historyAge must be at least 1 ms");
        assertThatThrownBy(() -> EventHub.builder(a).heartbeat(Duration.ofNanos(999_999)))
                .hasMessageContaining("heartbeat must be at least 1 ms");
        assertThatThrownBy(() -> EventHub.builder(a).topic(" ")).hasMessageContaining("topic");
        assertThatThrownBy(() -> EventHub.builder(a).maxWakeDelay(Duration.ofMillis(-1)))
                .hasMessageContaining("maxWakeDelay must be 0 to 1 s, was PT-0.001S");
        assertThatThrownBy(() -> EventHub.builder(a).maxWakeDelay(Duration.ofSeconds(2)))
                .hasMessageContaining("maxWakeDelay must be 0 to 1 s, was PT2S");
        assertThatThrownBy(() -> Identity.of(" ")).hasMessageContaining("authenticated principal");
        assertThatThrownBy(() -> Event.of("", "x")).hasMessageContaining("Event type");
    }

    private static void awaitBarrier(CyclicBarrier barrier) {
        try {
            barrier.await(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("the other thread never arrived", e);
        }
    }

    private static boolean awaitLatch(CountDownLatch latch) {
        try {
            return latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}

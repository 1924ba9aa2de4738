package dev.chorus.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.ConnectivityEvent;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.health.Health;
import dev.chorus.local.LocalCluster.LocalReplica;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.Rejection;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The in-process fault controls, which the feature tests of later modules rely on. */
class LocalClusterTest {

    private final LocalCluster cluster = LocalCluster.create("local_test");
    private final LocalReplica a = cluster.join(ReplicaId.random("a"));
    private final LocalReplica b = cluster.join(ReplicaId.random("b"));

    @AfterEach
    void closeReplicas() {
        a.close();
        b.close();
    }

    @Test
    void inProcess_isAnInProcessClusterOfOneFoundThroughTheServiceFile() {
        try (Backplane alone = Backplane.inProcess()) {
            assertThat(alone.backend()).isEqualTo("inprocess");
            assertThat(alone.cluster()).isEqualTo("chorus");
            assertThat(alone.health().status()).isEqualTo(Health.Status.HEALTHY);
        }
    }

    @Test
    void dropNext_revealsASequenceGapToTheReceiver() {
        Recorder onB = Recorder.on(b.backplane(), "t");
        a.backplane().publish(Message.of("t", "1"));
        await().until(() -> onB.texts().size() == 1);

        cluster.dropNext(b.id(), 2);
        a.backplane().publish(Message.of("t", "2"));
        a.backplane().publish(Message.of("t", "3"));
        a.backplane().publish(Message.of("t", "4"));

        await().until(() -> onB.texts().size() == 2);
        assertThat(onB.texts()).containsExactly("1", "4");
        assertThat(onB.missed()).singleElement().satisfies(missed -> {
            assertThat(missed.cause()).isEqualTo(Missed.Cause.SEQUENCE_GAP);
            assertThat(missed.origin()).isEqualTo(a.id());
            assertThat(missed.detail()).contains("2..3");
        });
        assertThat(b.backplane().stats().gaps()).isEqualTo(1);
    }

    @Test
    void isolateThenHeal_degradesThenReportsTheReconnect() {
        Recorder onB = Recorder.on(b.backplane(), "t");
        List<ConnectivityEvent> events = new CopyOnWriteArrayList<>();
        b.backplane().onConnectivity(events::add);

        cluster.isolate(b.id());
        assertThat(b.backplane().health().status()).isEqualTo(Health.Status.DEGRADED);
        a.backplane().publish(Message.of("t", "lost"));
        b.backplane().publish(Message.of("t", "own while isolated"));
        cluster.heal(b.id());
        a.backplane().publish(Message.of("t", "after"));

        await().until(() -> onB.texts().size() == 2);
        assertThat(onB.texts()).containsExactly("own while isolated", "after");
        assertThat(onB.missed()).extracting(Missed::cause).containsExactly(Missed.Cause.RECONNECTED);
        assertThat(b.backplane().health().status()).isEqualTo(Health.Status.HEALTHY);
        await().until(() -> events.size() == 2);
        assertThat(events)
                .extracting(ConnectivityEvent::type)
                .containsExactly(ConnectivityEvent.Type.DISCONNECTED, ConnectivityEvent.Type.RECONNECTED);
    }

    @Test
    void inject_garbageIsCountedAndDeliveryContinues() {
        Recorder onB = Recorder.on(b.backplane(), "t");

        cluster.inject(b.id(), "NOTIFY chorus, 'hello'".getBytes(StandardCharsets.UTF_8));
        a.backplane().publish(Message.of("t", "fine"));

        await().until(() -> onB.texts().size() == 1);
        assertThat(b.backplane().stats().rejected()).containsEntry(Rejection.MALFORMED, 1L);
    }

    @Test
    void replicaWithAnotherSecret_isRejectedBothWays() {
        LocalCluster signed = LocalCluster.builder("signed_test")
                .secret(new Secret("shared-secret-0123456789"))
                .build();
        try (LocalReplica good = signed.join(ReplicaId.random("good"));
                LocalReplica wrong = signed.join(
                        ReplicaId.random("wrong"), "1.0", Map.of(), new Secret("wrong-secret-0123456789"))) {
            Recorder onGood = Recorder.on(good.backplane(), "t");
            Recorder onWrong = Recorder.on(wrong.backplane(), "t");

            wrong.backplane().publish(Message.of("t", "forged"));
            good.backplane().publish(Message.of("t", "real"));

            await().until(() -> good.backplane().stats().rejected().get(Rejection.BAD_SIGNATURE) == 1L
                    && wrong.backplane().stats().rejected().get(Rejection.BAD_SIGNATURE) == 1L);
            await().until(() -> onGood.texts().size() == 1 && onWrong.texts().size() == 1);
            assertThat(onGood.texts()).containsExactly("real");
            assertThat(onWrong.texts()).containsExactly("forged");
        }
    }

    @Test
    void slowSubscriber_overflowIsDroppedAndReportedNeverSilent() throws Exception {
        LocalCluster small =
                LocalCluster.builder("small_queue").subscriptionCapacity(4).build();
        try (LocalReplica sender = small.join(ReplicaId.random("s"));
                LocalReplica receiver = small.join(ReplicaId.random("r"))) {
            java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
            List<String> got = new CopyOnWriteArrayList<>();
            List<Missed> missed = new CopyOnWriteArrayList<>();
            receiver.backplane().subscribe("t", new Subscriber() {
                @Override
                public void onMessage(Envelope envelope) {
                    entered.countDown();
                    awaitGate(gate);
                    got.add(envelope.payloadAsString());
                }

                @Override
                public void onMissed(Missed m) {
                    missed.add(m);
                }
            });
            sender.backplane().publish(Message.of("t", "0"));
            awaitGate(entered);
            for (int i = 1; i < 20; i++) {
                sender.backplane().publish(Message.of("t", Integer.toString(i)));
            }
            gate.countDown();
            // One envelope was in the subscriber's hands and four waited in the queue; the rest were dropped.
            await().until(() -> got.size() == 5);
            sender.backplane().publish(Message.of("t", "last"));

            await().until(() -> got.contains("last"));
            assertThat(got).containsExactly("0", "1", "2", "3", "4", "last");
            assertThat(receiver.backplane().stats().overflowDrops()).isEqualTo(15);
            assertThat(missed).extracting(Missed::cause).containsExactly(Missed.Cause.OVERFLOW);
        }
    }

    @Test
    void membership_seesJoinCleanLeaveAndCrash() {
        List<String> events = new CopyOnWriteArrayList<>();
        a.membership().onChange(new dev.chorus.membership.MembershipListener() {
            @Override
            public void onJoined(dev.chorus.membership.Member member) {
                events.add("joined " + member.id().name());
            }

            @Override
            public void onLeft(dev.chorus.membership.Member member, LeaveReason reason) {
                events.add(reason + " " + member.id().name());
            }
        });
        assertThat(a.membership().members()).extracting(m -> m.id().name()).containsExactly("a", "b");

        LocalReplica c = cluster.join(ReplicaId.random("c"), "9.9.9", Map.of("key", "abc"));
        LocalReplica d = cluster.join(ReplicaId.random("d"));
        assertThat(a.membership().member(c.id())).hasValueSatisfying(m -> {
            assertThat(m.version()).isEqualTo("9.9.9");
            assertThat(m.attributes()).containsEntry("key", "abc");
        });
        c.close();
        cluster.crash(d.id());

        await().until(() -> events.size() == 4);
        assertThat(events).containsExactly("joined c", "joined d", "LEFT c", "EXPIRED d");
        assertThat(a.membership().liveCount()).isEqualTo(2);
    }

    @Test
    void closedBackplane_isDownAndRefusesToPublish() {
        Backplane backplane = a.backplane();
        backplane.close();
        backplane.close();

        assertThat(backplane.health().status()).isEqualTo(Health.Status.DOWN);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> backplane.publish(Message.of("t", "x")))
                .isInstanceOf(dev.chorus.backplane.BackplaneClosedException.class)
                .hasMessageContaining("local_test");
    }

    private static void awaitGate(java.util.concurrent.CountDownLatch gate) {
        try {
            if (!gate.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
                throw new IllegalStateException("gate never opened");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Records what a subscription receives. */
    record Recorder(List<String> texts, List<Missed> missed) implements Subscriber {
        static Recorder on(Backplane backplane, String topic) {
            Recorder recorder = new Recorder(new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>());
            backplane.subscribe(topic, recorder);
            return recorder;
        }

        @Override
        public void onMessage(Envelope envelope) {
            texts.add(envelope.payloadAsString());
        }

        @Override
        public void onMissed(Missed m) {
            missed.add(m);
        }
    }

    static final Duration TIMEOUT = Duration.ofSeconds(10);
}

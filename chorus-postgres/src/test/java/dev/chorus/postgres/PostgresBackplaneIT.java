package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusException;
import dev.chorus.backplane.ConnectivityEvent;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.health.Health;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.Rejection;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** PostgreSQL-specific behaviour: transactions, spills, lost and frozen listeners, foreign notifications. */
class PostgresBackplaneIT {

    private final PgTestCluster cluster = new PgTestCluster("pgbp");

    @AfterEach
    void close() throws Exception {
        cluster.close();
    }

    @Test
    void transactionalPublish_commitIsDeliveredOnceToEveryReplica_rollbackNever() throws Exception {
        PostgresBackplane a = cluster.replica("a");
        PostgresBackplane b = cluster.replica("b");
        PostgresBackplane c = cluster.replica("c");
        Recorder onA = Recorder.on(a);
        Recorder onB = Recorder.on(b);
        Recorder onC = Recorder.on(c);
        awaitHealthy(a, b, c);

        try (Connection tx = cluster.schema.connect()) {
            tx.setAutoCommit(false);
            a.publish(tx, Message.of("t", "rolled back"));
            tx.rollback();
            a.publish(tx, Message.of("t", "committed 1"));
            a.publish(tx, Message.of("t", "committed 2"));
            tx.commit();
        }
        a.publish(Message.of("t", "after")).join();

        for (Recorder recorder : List.of(onA, onB, onC)) {
            await().until(() ->
                    recorder.texts().contains("after") && recorder.texts().contains("committed 2"));
        }
        for (Recorder recorder : List.of(onB, onC)) {
            assertThat(recorder.texts()).containsExactlyInAnyOrder("committed 1", "committed 2", "after");
            assertThat(recorder.texts().indexOf("committed 1"))
                    .isLessThan(recorder.texts().indexOf("committed 2"));
            assertThat(recorder.missed()).isEmpty();
        }
        assertThat(onA.texts()).containsExactlyInAnyOrder("committed 1", "committed 2", "after");
    }

    @Test
    void transactionalPublish_survivesTheWriterDyingRightAfterCommit() throws Exception {
        // The writer never relays (as if it died right after its commit); another replica's relay does.
        PostgresBackplane writer = cluster.replica(cluster.database(), "writer", builder -> builder.relayOutbox(false));
        PostgresBackplane survivor = cluster.replica("survivor");
        Recorder onSurvivor = Recorder.on(survivor);
        awaitHealthy(writer, survivor);

        try (Connection tx = cluster.schema.connect()) {
            tx.setAutoCommit(false);
            writer.publish(tx, Message.of("t", "orphaned"));
            tx.commit();
        }
        writer.close();

        await().atMost(Duration.ofSeconds(10)).until(() -> onSurvivor.texts().contains("orphaned"));
        assertThat(cluster.outboxRows()).isZero();
    }

    @Test
    void transactionalPublish_onAutoCommitConnection_explainsWhy() throws Exception {
        PostgresBackplane a = cluster.replica("a");
        try (Connection autoCommit = cluster.schema.connect()) {
            assertThatThrownBy(() -> a.publish(autoCommit, Message.of("t", "x")))
                    .isInstanceOf(ChorusException.class)
                    .hasMessageContaining("auto-commit")
                    .hasMessageContaining("setAutoCommit(false)");
        }
    }

    @Test
    void notifyInTransaction_deliversOnCommitToEveryoneIncludingItself() throws Exception {
        PostgresBackplane a = cluster.replica(
                cluster.database(), "a", b -> b.transactionalPublish(TransactionalPublish.NOTIFY_IN_TRANSACTION));
        PostgresBackplane b = cluster.replica("b");
        Recorder onA = Recorder.on(a);
        Recorder onB = Recorder.on(b);
        awaitHealthy(a, b);

        try (Connection tx = cluster.schema.connect()) {
            tx.setAutoCommit(false);
            a.publish(tx, Message.of("t", "rolled back"));
            tx.rollback();
            a.publish(tx, Message.of("t", "committed"));
            assertThat(onA.texts()).doesNotContain("committed");
            tx.commit();
        }
        a.publish(Message.of("t", "after")).join();

        await().until(() -> onB.texts().contains("after") && onB.texts().contains("committed"));
        await().until(() -> onA.texts().contains("after") && onA.texts().contains("committed"));
        assertThat(onB.texts()).doesNotContain("rolled back");
        assertThat(onA.texts()).doesNotContain("rolled back");
        assertThat(onB.missed()).isEmpty();
    }

    @Test
    void payloadOf100KiB_roundTripsThroughTheSpillTable_bothWays() throws Exception {
        PostgresBackplane a = cluster.replica("a");
        PostgresBackplane b = cluster.replica("b");
        Recorder onB = Recorder.on(b);
        awaitHealthy(a, b);
        byte[] big = new byte[100 * 1024];
        new Random(42).nextBytes(big);

        a.publish(Message.of("t", big)).join();
        try (Connection tx = cluster.schema.connect()) {
            tx.setAutoCommit(false);
            a.publish(tx, Message.of("t", big));
            tx.commit();
        }

        await().until(() -> onB.envelopes().size() == 2);
        assertThat(onB.envelopes()).allSatisfy(e -> assertThat(e.payload()).isEqualTo(big));
        assertThat(onB.missed()).isEmpty();
    }

    @Test
    void terminatedListener_degradesThenRecoversAndReportsTheGap() throws Exception {
        PostgresBackplane a = cluster.replica("a");
        PostgresBackplane b = cluster.replica("b");
        Recorder onB = Recorder.on(b);
        List<ConnectivityEvent> events = new CopyOnWriteArrayList<>();
        b.onConnectivity(events::add);
        awaitHealthy(a, b);
        int pid = b.listenerBackendPid();

        try (Connection c = cluster.schema.connect();
                PreparedStatement kill = c.prepareStatement("SELECT pg_terminate_backend(?)")) {
            kill.setInt(1, pid);
            kill.executeQuery().close();
        }

        await().until(() -> events.size() >= 2);
        assertThat(events)
                .extracting(ConnectivityEvent::type)
                .startsWith(ConnectivityEvent.Type.DISCONNECTED, ConnectivityEvent.Type.RECONNECTED);
        assertThat(events.get(0).reason()).containsAnyOf("terminating connection", "closed");
        assertThat(b.listenerBackendPid()).isNotEqualTo(pid);
        await().until(() -> onB.missed().stream().anyMatch(m -> m.cause() == Missed.Cause.RECONNECTED));
        await().until(() -> {
            a.publish(Message.of("t", "after"));
            return onB.texts().contains("after");
        });
    }

    @Test
    void frozenListenerLink_isDetectedWithinFiveSeconds() throws Exception {
        FaultProxy proxy = cluster.proxy();
        // Default ping timings: the 5-second promise is about them.
        PostgresBackplane b = cluster.replica(
                cluster.database(proxy.host(), proxy.port()),
                "b",
                builder ->
                        builder.ping(PostgresBackplane.DEFAULT_PING_INTERVAL, PostgresBackplane.DEFAULT_PING_TIMEOUT));
        awaitHealthy(b);
        List<ConnectivityEvent> events = new CopyOnWriteArrayList<>();
        b.onConnectivity(events::add);

        long frozenAt = System.nanoTime();
        proxy.freeze();

        await().atMost(Duration.ofSeconds(5)).until(() -> b.health().status() == Health.Status.DEGRADED);
        long detectedMillis = (System.nanoTime() - frozenAt) / 1_000_000;
        assertThat(b.health().reason()).containsAnyOf("ping", "canary");
        proxy.heal();
        await().atMost(Duration.ofSeconds(30)).until(() -> b.health().isHealthy());
        await().until(() -> events.stream().anyMatch(e -> e.type() == ConnectivityEvent.Type.RECONNECTED));
        System.out.println("frozen listener detected after " + detectedMillis + " ms");
    }

    @Test
    void foreignNotification_isDroppedCountedAndHarmless() throws Exception {
        PostgresBackplane a = cluster.replica("a");
        PostgresBackplane b = cluster.replica("b");
        Recorder onB = Recorder.on(b);
        awaitHealthy(a, b);

        cluster.rawNotify("hello from psql");
        cluster.rawNotify("e!!!not base64!!!");
        cluster.rawNotify("eQ0UBAAE=");
        a.publish(Message.of("t", "real")).join();

        await().until(() -> onB.texts().contains("real"));
        await().until(() -> b.stats().rejectedTotal() == 3);
        assertThat(b.stats().rejected().get(Rejection.MALFORMED)).isGreaterThanOrEqualTo(2);
        assertThat(b.health().isHealthy()).isTrue();
    }

    @Test
    void channelWithUpperCase_isRefusedWithTheReason() {
        assertThatThrownBy(() -> PostgresBackplane.builder(cluster.database()).channel("Orders"))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("lower-case")
                .hasMessageContaining("LISTEN");
    }

    @Test
    void databaseDownAtStart_startsDegradedAndConnectsWhenItComes() throws Exception {
        FaultProxy proxy = cluster.proxy();
        proxy.refuse(true);
        PostgresBackplane b = cluster.replica(cluster.database(proxy.host(), proxy.port()), "b", builder -> builder);
        PostgresBackplane a = cluster.replica("a");
        Recorder onB = Recorder.on(b);

        await().until(() -> b.health().status() == Health.Status.DEGRADED);
        b.publish(Message.of("t", "local while down"));
        await().until(() -> onB.texts().contains("local while down"));

        proxy.heal();
        await().atMost(Duration.ofSeconds(15)).until(() -> b.health().isHealthy());
        await().until(() -> {
            a.publish(Message.of("t", "hello"));
            return onB.texts().contains("hello");
        });
    }

    private static void awaitHealthy(PostgresBackplane... backplanes) {
        for (PostgresBackplane backplane : backplanes) {
            await().atMost(Duration.ofSeconds(15))
                    .until(() -> backplane.health().isHealthy());
        }
    }

    /** Records topic "t". */
    record Recorder(List<Envelope> envelopes, List<Missed> missed) implements Subscriber {
        static Recorder on(PostgresBackplane backplane) {
            Recorder recorder = new Recorder(new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>());
            backplane.subscribe("t", recorder);
            return recorder;
        }

        List<String> texts() {
            return envelopes.stream().map(Envelope::payloadAsString).toList();
        }

        @Override
        public void onMessage(Envelope envelope) {
            envelopes.add(envelope);
        }

        @Override
        public void onMissed(Missed m) {
            missed.add(m);
        }
    }
}

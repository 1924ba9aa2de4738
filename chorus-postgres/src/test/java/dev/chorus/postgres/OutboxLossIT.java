package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.Secret;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.postgres.PostgresBackplaneIT.Recorder;
import java.sql.Connection;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Issue 20: an outbox row that committed but cannot be stamped is announced as lost, never dropped quietly. */
class OutboxLossIT {

    private static final Secret SECRET = new Secret("chorus-test-secret-0123456789");

    private final PgTestCluster cluster = new PgTestCluster("pgloss");

    @AfterEach
    void close() throws Exception {
        cluster.close();
    }

    @Test
    void rowTooLargeForTheRelay_isAnnouncedAsLost_onEveryReplica() throws Exception {
        // A writer with the default limit commits a row the relaying replica, configured with a smaller limit,
        // cannot encode: a mismatch between replicas, or a row written by a migration.
        PostgresBackplane writer = cluster.replica(
                cluster.database(), "writer", b -> b.secret(SECRET).relayOutbox(false));
        PostgresBackplane relayer = cluster.replica(
                cluster.database(), "relayer", b -> b.secret(SECRET).maxEnvelopeBytes(16 * 1024));
        PostgresBackplane receiver = cluster.replica(
                cluster.database(), "receiver", b -> b.secret(SECRET).relayOutbox(false));
        Recorder onRelayer = Recorder.on(relayer);
        Recorder onReceiver = Recorder.on(receiver);
        for (PostgresBackplane backplane : new PostgresBackplane[] {writer, relayer, receiver}) {
            await().atMost(Duration.ofSeconds(15))
                    .until(() -> backplane.health().isHealthy());
        }

        try (Connection tx = writer.withOutbox(cluster.schema.connect())) {
            tx.setAutoCommit(false);
            writer.publish(tx, Message.of("t", new byte[64 * 1024]));
            tx.commit();
        }

        await().atMost(Duration.ofSeconds(15)).until(() -> !onReceiver.missed().isEmpty());
        assertThat(onReceiver.missed().getFirst().cause()).isEqualTo(Missed.Cause.SEQUENCE_GAP);
        assertThat(onReceiver.missed().getFirst().origin()).isEqualTo(relayer.replica());
        assertThat(onReceiver.missed().getFirst().detail()).contains("topic 't'", "lost");
        await().atMost(Duration.ofSeconds(5)).until(() -> !onRelayer.missed().isEmpty());
        assertThat(onRelayer.missed().getFirst().detail()).contains("over the limit");
        assertThat(relayer.stats().publishFailures()).isEqualTo(1);
        assertThat(cluster.outboxRows()).isZero();
        assertThat(onReceiver.envelopes()).isEmpty();

        // The relay goes on: the next row is delivered after the announced loss.
        try (Connection tx = writer.withOutbox(cluster.schema.connect())) {
            tx.setAutoCommit(false);
            writer.publish(tx, Message.of("t", "after"));
            tx.commit();
        }
        await().atMost(Duration.ofSeconds(15)).until(() -> onReceiver.texts().contains("after"));
    }
}

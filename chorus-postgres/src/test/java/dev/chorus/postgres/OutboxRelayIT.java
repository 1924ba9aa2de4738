package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.backplane.Message;
import dev.chorus.postgres.PostgresBackplaneIT.Recorder;
import dev.chorus.testkit.FaultProxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The relay's turn: one replica relays a channel at a time, and a holder that stops relaying gives it up. */
class OutboxRelayIT {

    /** The relay lock's first key ("crly"), as pg_locks shows it in classid for the two-key form. */
    private static final long RELAY_LOCK = 0x63726c79L;

    private final PgTestCluster cluster = new PgTestCluster("pgrelay");

    @AfterEach
    void close() throws Exception {
        cluster.close();
    }

    @Test
    void aFrozenHolder_losesTheTurn_andAnotherReplicaRelaysEveryRowInOrder() throws Exception {
        FaultProxy holderLink = cluster.proxy();
        PostgresBackplane holder =
                cluster.replica(cluster.database(holderLink.host(), holderLink.port()), "holder", b -> b);
        PostgresBackplane writer = cluster.replica(cluster.database(), "writer", b -> b.relayOutbox(false));
        PostgresBackplane relayer = cluster.replica("relayer");
        Recorder onRelayer = Recorder.on(relayer);
        for (PostgresBackplane backplane : List.of(holder, writer, relayer)) {
            await().atMost(Duration.ofSeconds(15))
                    .until(() -> backplane.health().isHealthy());
        }
        // Commits on the holder keep it kicked, so it takes the turn and holds it.
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            commit(holder, List.of("from the holder"));
            return relayTurnHolders() == 1;
        });
        holderLink.freeze();
        try {
            int count = 2_500;
            List<String> rows =
                    IntStream.range(0, count).mapToObj(Integer::toString).toList();
            commit(writer, rows);

            // Nobody else may relay while the frozen holder's session lives; PostgreSQL ends it once it has
            // been idle for the relay's idle_session_timeout (10 s), and the relayer takes the turn.
            await().atMost(Duration.ofSeconds(40)).until(() -> onRelayer.texts().containsAll(rows));
            assertThat(onRelayer.texts().stream().filter(text -> !text.equals("from the holder")))
                    .containsExactlyElementsOf(rows);
        } finally {
            holderLink.heal();
        }
    }

    private void commit(PostgresBackplane backplane, List<String> texts) throws SQLException {
        try (Connection tx = backplane.withOutbox(cluster.schema.connect())) {
            tx.setAutoCommit(false);
            for (String text : texts) {
                backplane.publish(tx, Message.of("t", text));
            }
            tx.commit();
        }
    }

    private int relayTurnHolders() throws SQLException {
        try (Connection c = cluster.schema.connect();
                var statement = c.prepareStatement("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                        + " AND classid::bigint = ? AND objid = hashtext(?)::oid AND objsubid = 2 AND granted")) {
            statement.setLong(1, RELAY_LOCK);
            statement.setString(2, cluster.schema.name() + "." + cluster.channel);
            try (var rs = statement.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }
}

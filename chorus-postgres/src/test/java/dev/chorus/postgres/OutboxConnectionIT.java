package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.chorus.backplane.Message;
import dev.chorus.postgres.PostgresBackplaneIT.Recorder;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.ds.PGSimpleDataSource;
import org.postgresql.jdbc.AutoSave;

/** Connections from {@link PostgresBackplane#withOutbox}: outbox rows sent with the commit, and only then. */
class OutboxConnectionIT {

    private final PgTestCluster cluster = new PgTestCluster("pgoc");
    private PostgresBackplane writer;
    private Recorder onReceiver;

    @BeforeEach
    void start() {
        writer = cluster.replica("writer");
        PostgresBackplane receiver = cluster.replica("receiver");
        onReceiver = Recorder.on(receiver);
        for (PostgresBackplane backplane : List.of(writer, receiver)) {
            await().atMost(Duration.ofSeconds(15))
                    .until(() -> backplane.health().isHealthy());
        }
    }

    @AfterEach
    void close() throws Exception {
        cluster.close();
    }

    @Test
    void commit_carriesEveryRowOfTheTransaction_inPublishOrder_andRollbackNone() throws Exception {
        try (Connection tx = writer.withOutbox(cluster.schema.connect())) {
            tx.setAutoCommit(false);
            writer.publish(tx, Message.of("t", "rolled back"));
            tx.rollback();
            for (int i = 1; i <= 3; i++) {
                writer.publish(tx, Message.of("t", "committed " + i));
            }
            tx.commit();
            writer.publish(tx, Message.of("t", "second transaction"));
            tx.commit();
        }

        await().until(() -> onReceiver.texts().contains("second transaction"));
        assertThat(onReceiver.texts())
                .containsExactly("committed 1", "committed 2", "committed 3", "second transaction");
        assertThat(onReceiver.missed()).isEmpty();
        assertThat(cluster.outboxRows()).isZero();
    }

    @Test
    void commit_ofMoreRowsThanOneExecutionHolds_deliversThemAllInOrder() throws Exception {
        // More than one relay batch (1,000) and more than one execution of the commit (10,000 rows, 40,000
        // parameters: pgjdbc allows 65,535 in one statement list).
        int count = 12_500;
        try (Connection tx = writer.withOutbox(cluster.schema.connect())) {
            tx.setAutoCommit(false);
            for (int i = 0; i < count; i++) {
                writer.publish(tx, Message.of("t", Integer.toString(i)));
            }
            tx.commit();
        }

        await().until(() -> onReceiver.texts().size() >= count);
        assertThat(onReceiver.texts())
                .containsExactlyElementsOf(java.util.stream.IntStream.range(0, count)
                        .mapToObj(Integer::toString)
                        .toList());
    }

    @Test
    void nothingReachesTheDatabaseBeforeCommit() throws Exception {
        try (Connection tx = writer.withOutbox(cluster.schema.connect());
                Connection observer = cluster.schema.connect()) {
            tx.setAutoCommit(false);
            writer.publish(tx, Message.of("t", "pending"));
            // An outbox INSERT on tx would hold the table's ROW EXCLUSIVE lock until the transaction ends.
            assertThat(locksHeldOnOutboxBy(observer, backendPid(tx))).isZero();
            tx.commit();
        }
        await().until(() -> onReceiver.texts().contains("pending"));
    }

    @Test
    void rollbackToSavepoint_forgetsWhatWasPublishedAfterIt_only() throws Exception {
        try (Connection tx = writer.withOutbox(cluster.schema.connect())) {
            tx.setAutoCommit(false);
            writer.publish(tx, Message.of("t", "before"));
            Savepoint outer = tx.setSavepoint();
            writer.publish(tx, Message.of("t", "undone 1"));
            tx.setSavepoint();
            writer.publish(tx, Message.of("t", "undone 2"));
            tx.rollback(outer);
            writer.publish(tx, Message.of("t", "after"));
            Savepoint released = tx.setSavepoint();
            writer.publish(tx, Message.of("t", "kept past a release"));
            tx.releaseSavepoint(released);
            tx.commit();
        }

        await().until(() -> onReceiver.texts().contains("kept past a release"));
        assertThat(onReceiver.texts()).containsExactly("before", "after", "kept past a release");
    }

    @Test
    void closeWithoutCommit_publishesNothing_andSetAutoCommitTrue_commits() throws Exception {
        try (Connection tx = writer.withOutbox(cluster.schema.connect())) {
            tx.setAutoCommit(false);
            writer.publish(tx, Message.of("t", "abandoned"));
        }
        try (Connection tx = writer.withOutbox(cluster.schema.connect())) {
            tx.setAutoCommit(false);
            writer.publish(tx, Message.of("t", "committed by setAutoCommit"));
            tx.setAutoCommit(true);
        }

        await().until(() -> onReceiver.texts().contains("committed by setAutoCommit"));
        assertThat(onReceiver.texts()).containsExactly("committed by setAutoCommit");
    }

    @Test
    void commitThatFails_throws_andAnnouncesNothing() throws Exception {
        try (Connection setup = cluster.schema.connect();
                Statement statement = setup.createStatement()) {
            statement.execute(
                    "CREATE TABLE once (id int, CONSTRAINT once_id UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)");
        }
        try (Connection tx = writer.withOutbox(cluster.schema.connect())) {
            tx.setAutoCommit(false);
            try (Statement statement = tx.createStatement()) {
                statement.execute("INSERT INTO once VALUES (1), (1)"); // fails only at COMMIT
            }
            writer.publish(tx, Message.of("t", "never committed"));
            assertThatThrownBy(tx::commit).isInstanceOf(SQLException.class).hasMessageContaining("once_id");
            tx.rollback();
            writer.publish(tx, Message.of("t", "marker"));
            tx.commit();
        }

        await().until(() -> onReceiver.texts().contains("marker"));
        assertThat(onReceiver.texts()).containsExactly("marker");
        assertThat(cluster.outboxRows()).isZero();
    }

    @Test
    void outboxInsertThatFails_failsTheCommit_andTheDataNeverCommits_evenOnASecondCommit() throws Exception {
        try (Connection setup = cluster.schema.connect();
                Statement statement = setup.createStatement()) {
            statement.execute("CREATE TABLE data (x int)");
            statement.execute(
                    "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS"
                            + " $$ BEGIN IF NEW.topic = 'boom' THEN RAISE EXCEPTION 'outbox refused'; END IF; RETURN NEW; END $$");
            statement.execute("CREATE TRIGGER refuse_boom BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION"
                    + " refuse_boom()");
        }
        // autosave=always recovers from the failed INSERT by rolling back to its own savepoint, which leaves the
        // transaction open: the wrapper must roll it back, or a second commit() would commit the data alone.
        for (String parameters : List.of("", "&autosave=always")) {
            try (Connection tx =
                    writer.withOutbox(DriverManager.getConnection(cluster.schema.jdbcUrl() + parameters))) {
                tx.setAutoCommit(false);
                try (Statement statement = tx.createStatement()) {
                    statement.execute("INSERT INTO data VALUES (1)");
                }
                writer.publish(tx, Message.of("boom", "refused"));
                assertThatThrownBy(tx::commit).isInstanceOf(SQLException.class).hasMessageContaining("outbox refused");
                tx.commit();
            }
        }
        try (Connection c = cluster.schema.connect();
                var rs = c.createStatement().executeQuery("SELECT count(*) FROM data")) {
            rs.next();
            assertThat(rs.getInt(1)).isZero();
        }
    }

    @Test
    void unwrapToConnection_givesTheWrapper_soACommitCannotBypassIt() throws Exception {
        try (Connection tx = writer.withOutbox(cluster.schema.connect())) {
            assertThat(tx.unwrap(Connection.class)).isSameAs(tx);
            assertThat(tx.isWrapperFor(Connection.class)).isTrue();
            assertThat(tx.unwrap(PGConnection.class)).isNotSameAs(tx);
        }
    }

    @Test
    void autosaveConnection_getsTheRowsAsAStatementOfTheirOwn_andStillOnlyOnCommit() throws Exception {
        try (Connection tx =
                writer.withOutbox(DriverManager.getConnection(cluster.schema.jdbcUrl() + "&autosave=always"))) {
            assertThat(tx.unwrap(PGConnection.class).getAutosave()).isEqualTo(AutoSave.ALWAYS);
            tx.setAutoCommit(false);
            writer.publish(tx, Message.of("t", "rolled back"));
            tx.rollback();
            writer.publish(tx, Message.of("t", "committed"));
            tx.commit();
        }

        await().until(() -> onReceiver.texts().contains("committed"));
        assertThat(onReceiver.texts()).containsExactly("committed");
    }

    @Test
    void dataSource_wrapsEveryConnectionItHandsOut() throws Exception {
        PGSimpleDataSource plain = new PGSimpleDataSource();
        plain.setURL(cluster.schema.jdbcUrl());
        DataSource dataSource = writer.withOutbox(plain);
        assertThat(dataSource.unwrap(PGSimpleDataSource.class)).isSameAs(plain);

        for (int i = 1; i <= 2; i++) {
            try (Connection tx = dataSource.getConnection()) {
                tx.setAutoCommit(false);
                writer.publish(tx, Message.of("t", "from the data source " + i));
                assertThat(locksHeldOnOutboxBy(tx, -1)).isZero();
                tx.commit();
            }
        }

        await().until(() -> onReceiver.texts().size() == 2);
        assertThat(onReceiver.texts()).containsExactly("from the data source 1", "from the data source 2");
    }

    @Test
    void aConnectionWrappedForAnotherBackplane_writesItsRowAtPublish_andIsStillDelivered() throws Exception {
        PostgresBackplane other = cluster.replica("other");
        try (Connection tx = other.withOutbox(cluster.schema.connect())) {
            tx.setAutoCommit(false);
            writer.publish(tx, Message.of("t", "via another wrapper"));
            assertThat(locksHeldOnOutboxBy(tx, -1)).isEqualTo(1);
            tx.commit();
        }
        await().until(() -> onReceiver.texts().contains("via another wrapper"));
    }

    /** Outbox locks held by backend {@code pid} ({@code -1}: the backend of {@code c} itself). */
    private int locksHeldOnOutboxBy(Connection c, int pid) throws SQLException {
        try (var statement = c.prepareStatement("SELECT count(*) FROM pg_locks WHERE relation = '"
                + cluster.schema.name() + ".outbox'::regclass AND pid = "
                + (pid < 0 ? "pg_backend_pid()" : "?"))) {
            if (pid >= 0) {
                statement.setInt(1, pid);
            }
            try (var rs = statement.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    private static int backendPid(Connection c) throws SQLException {
        return c.unwrap(PGConnection.class).getBackendPID();
    }
}

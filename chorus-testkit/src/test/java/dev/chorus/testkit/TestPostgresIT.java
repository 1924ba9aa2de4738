package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

class TestPostgresIT {

    @Test
    void server_resolvesOnce_andAnswersQueries() throws SQLException {
        TestPostgres server = TestPostgres.server();

        assertThat(TestPostgres.server()).isSameAs(server);
        assertThat(server.source()).isNotNull();
        assertThat(queryString(server.connect(), "SELECT current_database()")).isEqualTo(server.database());
        assertThat(server.toString()).doesNotContain("password=");
    }

    @Test
    void newSchema_givesEachTestItsOwnTables() throws SQLException {
        TestPostgres server = TestPostgres.server();
        try (TestPostgres.Schema first = server.newSchema("Isolation Test!");
                TestPostgres.Schema second = server.newSchema("Isolation Test!")) {
            assertThat(first.name()).isNotEqualTo(second.name()).matches("t_isolation_test_[0-9a-f]{8}");

            try (Connection connection = first.connect();
                    Statement statement = connection.createStatement()) {
                statement.execute("CREATE TABLE items (id int)");
                statement.execute("INSERT INTO items VALUES (1)");
            }

            assertThat(queryString(first.connect(), "SELECT current_schema()")).isEqualTo(first.name());
            assertThat(queryString(first.connect(), "SELECT count(*) FROM items"))
                    .isEqualTo("1");
            assertThat(queryString(second.connect(), "SELECT to_regclass('items')"))
                    .isNull();
        }
    }

    @Test
    void schemaClose_dropsTheSchemaAndItsTables() throws SQLException {
        TestPostgres server = TestPostgres.server();
        TestPostgres.Schema schema = server.newSchema("drop");
        try (Connection connection = schema.connect();
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE leftovers (id int)");
        }

        schema.close();
        schema.close();

        assertThat(queryString(
                        server.connect(), "SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema.name() + "'"))
                .isEqualTo("0");
    }

    @Test
    void uniqueChannel_isFreshOnEveryCall_andCarriesNotifications() throws SQLException {
        try (TestPostgres.Schema schema = TestPostgres.server().newSchema("notify");
                Connection listener = schema.connect();
                Connection notifier = schema.connect();
                Statement listen = listener.createStatement();
                Statement notify = notifier.createStatement()) {
            String channel = schema.uniqueChannel("Events");
            assertThat(schema.uniqueChannel("Events")).isNotEqualTo(channel);
            assertThat(channel).matches("[a-z0-9_]{1,63}");

            listen.execute("LISTEN " + channel);
            notify.execute("NOTIFY " + channel + ", 'hello'");

            List<PGNotification> received = new ArrayList<>();
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                PGNotification[] batch = listener.unwrap(PGConnection.class).getNotifications(100);
                if (batch != null) {
                    received.addAll(List.of(batch));
                }
                return !received.isEmpty();
            });
            assertThat(received.getFirst().getName()).isEqualTo(channel);
            assertThat(received.getFirst().getParameter()).isEqualTo("hello");
        }
    }

    @Test
    void resolve_prefersTheConfiguredUrl() throws SQLException {
        String url = TestPostgres.server().jdbcUrl();

        TestPostgres configured = TestPostgres.resolve(Map.of(TestPostgres.URL_KEY, url)::get);

        assertThat(configured.source()).isEqualTo(ServerSource.CONFIGURED);
        assertThat(configured.port()).isEqualTo(TestPostgres.server().port());
        assertThat(queryString(configured.connect(), "SELECT 1")).isEqualTo("1");
    }

    /** Runs one query on a connection it closes, returning the first column of the first row. */
    static String queryString(Connection connection, String sql) throws SQLException {
        try (connection;
                Statement statement = connection.createStatement();
                ResultSet result = statement.executeQuery(sql)) {
            assertThat(result.next()).isTrue();
            return result.getString(1);
        }
    }
}

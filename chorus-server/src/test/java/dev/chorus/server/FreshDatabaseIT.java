package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.testkit.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A replica whose backplane is not PostgreSQL still keeps membership and leases in DATABASE_URL: on a
 * database that has never seen Chorus it must create those tables itself. (It once left that to the
 * PostgreSQL backplane, and passed only when an earlier test had created them.)
 */
class FreshDatabaseIT {

    @Test
    void aReplicaOnAnotherBackplaneCreatesChorusTablesOnAFreshDatabase() throws Exception {
        try (Connection c = DriverManager.getConnection(TestPostgres.server().jdbcUrl());
                Statement s = c.createStatement()) {
            // What a fresh database looks like. Tests run one at a time; later ones recreate the schema.
            s.execute("DROP SCHEMA IF EXISTS chorus CASCADE");
        }
        Map<String, String> env = TestClients.sharedStorage("fresh", null);
        try (ServerProcess a = ServerProcess.start("a", env)) {
            Api api = new Api(a.uri());
            await().atMost(Duration.ofSeconds(30)).until(() -> api.liveMembers() == 1);
            assertThat(a.printed("does not exist")).isFalse();
        }
    }
}

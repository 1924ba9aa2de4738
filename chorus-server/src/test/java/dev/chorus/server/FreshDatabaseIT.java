package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.testkit.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
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
        // A database of its own: truly fresh, and no other test (in this JVM or another) loses its tables.
        try (TestPostgres.Database fresh = TestPostgres.server().newDatabase("fresh")) {
            try (Connection c = fresh.server().connect();
                    Statement s = c.createStatement();
                    ResultSet chorus = s.executeQuery("SELECT 1 FROM pg_namespace WHERE nspname = 'chorus'")) {
                assertThat(chorus.next())
                        .as("a schema chorus in a new database")
                        .isFalse();
            }
            Map<String, String> env = TestClients.sharedStorage("fresh", null);
            env.put("DATABASE_URL", fresh.server().jdbcUrl());
            try (ServerProcess a = ServerProcess.start("a", env)) {
                Api api = new Api(a.uri());
                await().atMost(Duration.ofSeconds(30)).until(() -> api.liveMembers() == 1);
                assertThat(a.printed("does not exist")).isFalse();
            }
        }
    }
}

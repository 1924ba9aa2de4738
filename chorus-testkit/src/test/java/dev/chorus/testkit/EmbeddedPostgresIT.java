package dev.chorus.testkit;

import static dev.chorus.testkit.TestPostgresIT.queryString;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Proves the no-services fallback on every build, even where local servers run. */
class EmbeddedPostgresIT {

    @Test
    void forcedEmbedded_startsAServerThatAnswers_andStopsOnClose() throws SQLException {
        TestPostgres resolved = TestPostgres.resolve(Map.of("CHORUS_TEST_EMBEDDED", "true")::get);
        assertThat(resolved).isInstanceOf(TestPostgres.Embedded.class);
        TestPostgres.Embedded embedded = (TestPostgres.Embedded) resolved;

        try (embedded) {
            assertThat(embedded.source()).isEqualTo(ServerSource.EMBEDDED);
            assertThat(embedded.host()).isEqualTo("127.0.0.1");
            assertThat(embedded.port()).isNotEqualTo(TestPostgres.server().port());
            assertThat(queryString(embedded.connect(), "SHOW server_version")).startsWith("18.");

            try (TestPostgres.Schema schema = embedded.newSchema("embedded");
                    Connection connection = schema.connect();
                    Statement statement = connection.createStatement()) {
                statement.execute("CREATE TABLE t (v text)");
                statement.execute("INSERT INTO t VALUES ('ok')");
                assertThat(queryString(schema.connect(), "SELECT v FROM t")).isEqualTo("ok");
            }
        }

        embedded.close();
        assertThatThrownBy(embedded::connect).isInstanceOf(SQLException.class);
    }
}

package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ChorusException;
import org.junit.jupiter.api.Test;

class PostgresDatabaseTest {

    @Test
    void builder_readsEveryUrlForm() {
        try (PostgresDatabase a = PostgresDatabase.builder(
                                "postgres://app:s%40cret@db.internal:6543/orders?sslmode=require")
                        .build();
                PostgresDatabase b = PostgresDatabase.builder(
                                "jdbc:postgresql://10.0.0.5/shop?user=svc&password=pw&ApplicationName=x")
                        .schema("chorus_shop")
                        .build();
                PostgresDatabase c =
                        PostgresDatabase.builder("postgresql://[::1]/x").build()) {
            assertThat(a.host()).isEqualTo("db.internal");
            assertThat(a.port()).isEqualTo(6543);
            assertThat(a.database()).isEqualTo("orders");
            assertThat(a.user()).isEqualTo("app");
            assertThat(a.password()).isEqualTo("s@cret");
            assertThat(a.parameters()).containsEntry("sslmode", "require");
            assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://db.internal:6543/orders?sslmode=require");
            assertThat(a.describe()).doesNotContain("s@cret").contains("****");

            assertThat(b.port()).isEqualTo(5432);
            assertThat(b.user()).isEqualTo("svc");
            assertThat(b.password()).isEqualTo("pw");
            assertThat(b.schema()).isEqualTo("chorus_shop");
            assertThat(b.jdbcUrl()).doesNotContain("password");

            assertThat(c.host()).isEqualTo("::1");
            assertThat(c.user()).isEqualTo("postgres");
            assertThat(c.jdbcUrl()).startsWith("jdbc:postgresql://[::1]:5432/x");
        }
    }

    @Test
    void builder_badUrl_namesItWithThePasswordMasked() {
        assertThatThrownBy(() -> PostgresDatabase.builder("mysql://u:hunter2@db/x"))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("postgres://")
                .hasMessageNotContaining("hunter2");
        assertThatThrownBy(() -> PostgresDatabase.builder("postgres:///nohost"))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("no host");
    }

    @Test
    void schema_mustBeALowerCaseIdentifier() {
        assertThatThrownBy(() -> PostgresDatabase.builder("postgres://db/x").schema("Chorus; DROP TABLE x"))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("lower-case");
    }

    @Test
    void schemaSql_isTheShippedFileForTheGivenSchema() {
        String sql = PostgresDatabase.schemaSql("my_schema");

        assertThat(sql).contains("CREATE TABLE IF NOT EXISTS my_schema.outbox").doesNotContain("${schema}");
    }
}

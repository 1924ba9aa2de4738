package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ServerUrlTest {

    @Test
    void postgresUrl_isParsed_andRebuiltWithItsExtraParameters() {
        TestPostgres server = TestPostgres.fromUrl(
                ServerSource.CONFIGURED,
                "jdbc:postgresql://db.example:6543/chorus?user=ci&password=s%26cret&sslmode=disable");

        assertThat(server.host()).isEqualTo("db.example");
        assertThat(server.port()).isEqualTo(6543);
        assertThat(server.database()).isEqualTo("chorus");
        assertThat(server.user()).isEqualTo("ci");
        assertThat(server.password()).isEqualTo("s&cret");
        assertThat(server.jdbcUrl())
                .startsWith("jdbc:postgresql://db.example:6543/chorus?user=ci&password=s%26cret")
                .contains("sslmode=disable");
        assertThat(server.toString()).doesNotContain("cret");
    }

    @Test
    void postgresUrl_masksPasswords() {
        assertThat(TestPostgres.mask("jdbc:postgresql://h/db?user=u&password=secret&ssl=true"))
                .isEqualTo("jdbc:postgresql://h/db?user=u&password=***&ssl=true");
    }

    @Test
    void postgresUrl_rejectsOtherSchemes() {
        assertThatThrownBy(() -> TestPostgres.fromUrl(ServerSource.CONFIGURED, "jdbc:mysql://h/db?password=secret"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageNotContaining("secret");
    }

    @Test
    void redisUri_isParsed_andItsPasswordMasked() {
        TestRedis server = TestRedis.fromUri("redis://:secret@cache.example:6380");

        assertThat(server.host()).isEqualTo("cache.example");
        assertThat(server.port()).isEqualTo(6380);
        assertThat(server.uri()).isEqualTo("redis://:***@cache.example:6380");
        assertThat(server.uriWithPassword()).isEqualTo("redis://:secret@cache.example:6380");
        assertThat(TestRedis.fromUri("redis://127.0.0.1").port()).isEqualTo(6379);
    }

    @Test
    void hints_becomeValidIdentifiers() {
        assertThat(TestEnvironment.sanitize("My Test: case #1!", 40)).isEqualTo("my_test_case_1");
        assertThat(TestEnvironment.sanitize("!!!", 40)).isEqualTo("x");
        assertThat(TestEnvironment.sanitize("abcdef_ghij", 7)).isEqualTo("abcdef");
        assertThat(TestEnvironment.randomSuffix()).matches("[0-9a-f]{8}");
    }
}

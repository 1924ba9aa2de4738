package dev.chorus.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ChorusException;
import org.junit.jupiter.api.Test;

class RedisConnectorTest {

    @Test
    void builder_acceptsEveryUrlFormLettuceTakes_andMasksPasswords() {
        try (RedisConnector plain =
                        RedisConnector.builder("redis://cache.internal:6380/2").build();
                RedisConnector acl = RedisConnector.builder("redis://app:s3cret@cache.internal:6379/0")
                        .build();
                RedisConnector tls = RedisConnector.builder("rediss://:pw@cache.internal:6380")
                        .build();
                RedisConnector sentinel = RedisConnector.builder(
                                "redis-sentinel://:pw@sentinel-1:26379,sentinel-2:26379/0#mymaster")
                        .build()) {
            assertThat(plain.uri().getHost()).isEqualTo("cache.internal");
            assertThat(plain.uri().getPort()).isEqualTo(6380);
            assertThat(plain.uri().getDatabase()).isEqualTo(2);
            assertThat(acl.uri().getUsername()).isEqualTo("app");
            assertThat(acl.describe()).doesNotContain("s3cret").contains("****");
            assertThat(tls.uri().isSsl()).isTrue();
            assertThat(tls.describe()).doesNotContain(":pw@");
            assertThat(sentinel.uri().getSentinels()).hasSize(2);
            assertThat(sentinel.uri().getSentinelMasterId()).isEqualTo("mymaster");
        }
    }

    @Test
    void builder_badUrl_namesItMaskedWithExamples() {
        assertThatThrownBy(() -> RedisConnector.builder("http://:hunter2@cache:6379"))
                .isInstanceOf(ChorusException.class)
                .hasMessageNotContaining("hunter2")
                .hasMessageContaining("redis://");
    }

    @Test
    void prefix_isValidated_andKeysLiveUnderIt() {
        try (RedisConnector connector = RedisConnector.builder("redis://localhost")
                .prefix("orders_prod")
                .build()) {
            assertThat(connector.key("bp")).isEqualTo("orders_prod:bp");
        }
        assertThatThrownBy(() -> RedisConnector.builder("redis://localhost").prefix("has space"))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("prefix");
    }
}

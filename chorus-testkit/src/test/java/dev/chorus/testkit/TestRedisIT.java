package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class TestRedisIT {

    @Test
    void server_resolvesOnce_andAnswersPing() {
        TestRedis server = TestRedis.server();

        assertThat(TestRedis.server()).isSameAs(server);
        assertThat(server.uri()).isEqualTo("redis://" + server.host() + ":" + server.port());
        try (RespClient client = server.client()) {
            assertThat(client.send("PING").asString()).isEqualTo("PONG");
        }
    }

    @Test
    void newNamespace_keepsTestsApart() {
        TestRedis server = TestRedis.server();
        try (TestRedis.Namespace first = server.newNamespace("Isolation");
                TestRedis.Namespace second = server.newNamespace("Isolation");
                RespClient client = server.client()) {
            assertThat(first.prefix()).isNotEqualTo(second.prefix()).matches("t:isolation:[0-9a-f]{8}:");
            assertThat(first.key("k")).isEqualTo(first.prefix() + "k");
            assertThat(first.channel("events")).startsWith(first.prefix()).isNotEqualTo(second.channel("events"));

            client.send("SET", first.key("k"), "mine");

            assertThat(client.send("GET", first.key("k")).asString()).isEqualTo("mine");
            assertThat(client.send("GET", second.key("k")).isNull()).isTrue();
        }
    }

    @Test
    void namespaceClose_deletesItsKeys_andOnlyItsKeys() {
        TestRedis server = TestRedis.server();
        int keys = 1_234; // more than one SCAN page
        try (TestRedis.Namespace bystander = server.newNamespace("bystander");
                RespClient client = server.client()) {
            TestRedis.Namespace namespace = server.newNamespace("cleanup");
            for (int i = 0; i < keys; i++) {
                client.write("SET", namespace.key("k" + i), "v");
            }
            for (int i = 0; i < keys; i++) {
                assertThat(client.read().asString()).isEqualTo("OK");
            }
            client.send("SET", bystander.key("k0"), "v");

            namespace.close();
            namespace.close();

            assertThat(client.send("EXISTS", namespace.key("k0"), namespace.key("k" + (keys - 1)))
                            .asLong())
                    .isZero();
            assertThat(client.send("SCAN", "0", "MATCH", namespace.prefix() + "*", "COUNT", "10000")
                            .asList()
                            .get(1)
                            .asList())
                    .isEmpty();
            assertThat(client.send("EXISTS", bystander.key("k0")).asLong()).isEqualTo(1);
        }
    }

    @Test
    void resolve_prefersTheConfiguredUri() {
        TestRedis server = TestRedis.server();

        TestRedis configured = TestRedis.resolve(Map.of(TestRedis.URL_KEY, server.uri())::get);

        assertThat(configured.source()).isEqualTo(ServerSource.CONFIGURED);
        assertThat(configured.port()).isEqualTo(server.port());
        try (RespClient client = configured.client()) {
            assertThat(client.send("PING").asString()).isEqualTo("PONG");
        }
    }
}

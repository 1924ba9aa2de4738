package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Proves the no-services fallback on every build, even where a local Redis runs. */
class EmbeddedRedisIT {

    @Test
    void forcedEmbedded_startsAServerThatAnswersPing() {
        TestRedis resolved = TestRedis.resolve(Map.of("CHORUS_TEST_EMBEDDED", "true")::get);
        assertThat(resolved).isInstanceOf(TestRedis.Embedded.class);

        try (TestRedis.Embedded embedded = (TestRedis.Embedded) resolved;
                RespClient client = embedded.client()) {
            assertThat(embedded.source()).isEqualTo(ServerSource.EMBEDDED);
            assertThat(embedded.port()).isNotEqualTo(6379);
            assertThat(client.send("PING").asString()).isEqualTo("PONG");
            assertThat(client.send("CONFIG", "GET", "save").asList().get(1).asString())
                    .isEmpty();
        }
    }

    @Test
    void bundledBinary_worksWithoutAnInstalledRedis() {
        try (TestRedis.Embedded embedded = TestRedis.startEmbedded(RedisProcess.Binary.BUNDLED);
                RespClient client = embedded.client()) {
            assertThat(client.send("INFO", "server").asString()).contains("redis_version:6.2");
            assertThat(client.send("PING").asString()).isEqualTo("PONG");
        }
    }

    @Test
    void stopAndStart_restartOnTheSamePort() {
        try (TestRedis.Embedded embedded = TestRedis.startEmbedded()) {
            int port = embedded.port();
            try (RespClient client = embedded.client()) {
                client.send("SET", "before", "restart");
            }

            embedded.stop();

            assertThat(embedded.isRunning()).isFalse();
            assertThatThrownBy(() -> RespClient.connect("127.0.0.1", port, Duration.ofSeconds(1)))
                    .isInstanceOf(UncheckedIOException.class);

            embedded.start();

            assertThat(embedded.isRunning()).isTrue();
            assertThat(embedded.port()).isEqualTo(port);
            try (RespClient client = embedded.client()) {
                assertThat(client.send("PING").asString()).isEqualTo("PONG");
                assertThat(client.send("GET", "before").isNull())
                        .as("no persistence")
                        .isTrue();
            }
        }
    }

    @Test
    void shutdownCommand_stopsTheServer_andStartBringsItBack() {
        try (TestRedis.Embedded embedded = TestRedis.startEmbedded()) {
            try (RespClient client = embedded.client()) {
                client.write("SHUTDOWN", "NOSAVE");
                assertThatThrownBy(client::read).isInstanceOf(UncheckedIOException.class);
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> !embedded.isRunning());

            embedded.start();

            try (RespClient client = embedded.client()) {
                assertThat(client.send("PING").asString()).isEqualTo("PONG");
            }
        }
    }

    @Test
    void close_isIdempotent_andStopsTheServer() {
        TestRedis.Embedded embedded = TestRedis.startEmbedded();

        embedded.close();
        embedded.close();

        assertThat(embedded.isRunning()).isFalse();
        assertThatThrownBy(embedded::start).isInstanceOf(IllegalStateException.class);
    }
}

package dev.chorus.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ConfigurationException;
import dev.chorus.server.ServerConfig;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The WebSocket settings: defaults that outlast common proxy timeouts, and refusals that name the fix. */
class SocketOptionsTest {

    @Test
    void defaults_pingWithinCommonProxyTimeouts_andCompressionOff() {
        SocketOptions options = SocketOptions.from(ServerConfig.from(Map.of()));

        assertThat(options.pingInterval()).isEqualTo(Duration.ofSeconds(25)).isLessThan(Duration.ofSeconds(30));
        assertThat(options.pongTimeout()).isEqualTo(Duration.ofSeconds(20));
        assertThat(options.deadPeerBound()).isEqualTo(Duration.ofSeconds(45));
        assertThat(options.compression()).isFalse();
        assertThat(options.reconnectJitter()).isEqualTo(Duration.ofSeconds(5));
        assertThat(options.jettyIdleTimeout()).isGreaterThan(options.deadPeerBound());
    }

    @Test
    void settings_areRead() {
        SocketOptions options = SocketOptions.from(ServerConfig.from(Map.of(
                "CHORUS_WS_PING_INTERVAL", "10s",
                "CHORUS_WS_PONG_TIMEOUT", "500ms",
                "CHORUS_WS_COMPRESSION", "true",
                "CHORUS_WS_RECONNECT_JITTER", "0s")));

        assertThat(options.pingInterval()).isEqualTo(Duration.ofSeconds(10));
        assertThat(options.pongTimeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(options.compression()).isTrue();
        assertThat(options.reconnectJitter()).isZero();
    }

    @Test
    void badValues_areRefusedNamingTheVariable() {
        assertThatThrownBy(() -> SocketOptions.from(ServerConfig.from(Map.of("CHORUS_WS_PING_INTERVAL", "soon"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("CHORUS_WS_PING_INTERVAL='soon'");
        assertThatThrownBy(() -> SocketOptions.from(ServerConfig.from(Map.of("CHORUS_WS_PONG_TIMEOUT", "1ms"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("CHORUS_WS_PONG_TIMEOUT=1ms is too short");
        assertThatThrownBy(() -> SocketOptions.from(ServerConfig.from(Map.of("CHORUS_WS_COMPRESSION", "maybe"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("CHORUS_WS_COMPRESSION='maybe' is not true or false");
    }
}

package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ConfigurationException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The server's own settings: defaults, ports, and the refusals that name the variable and the fix. */
class ServerConfigTest {

    @Test
    void theDefaultIsOneEmbeddedReplicaOnPort8080() {
        ServerConfig config = ServerConfig.from(Map.of());
        assertThat(config.port()).isEqualTo(8080);
        assertThat(config.host()).isEqualTo("0.0.0.0");
        assertThat(config.embedded()).isTrue();
        assertThat(config.storageSchema()).isEqualTo("chorus_server");
    }

    @Test
    void aClusteredBackplaneWithoutSharedStorageIsRefused() {
        assertThatThrownBy(() ->
                        ServerConfig.from(Map.of("CHORUS_BACKPLANE", "redis", "REDIS_URL", "redis://127.0.0.1:6379")))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("CHORUS_BACKPLANE=redis")
                .hasMessageContaining("DATABASE_URL is not set")
                .satisfies(
                        e -> assertThat(((ConfigurationException) e).variable()).isEqualTo("DATABASE_URL"));
        assertThat(ServerConfig.from(Map.of("CHORUS_BACKPLANE", "postgres", "DATABASE_URL", "postgres://u@db:5432/app"))
                        .embedded())
                .isFalse();
    }

    @Test
    void portsAndSchemasAreChecked() {
        assertThat(ServerConfig.from(Map.of("PORT", "9000")).port()).isEqualTo(9000);
        assertThat(ServerConfig.from(Map.of("PORT", "9000", "CHORUS_HTTP_PORT", "9001"))
                        .port())
                .isEqualTo(9001);
        assertThatThrownBy(() -> ServerConfig.from(Map.of("PORT", "http")))
                .hasMessageContaining("PORT='http' is not a port");
        assertThatThrownBy(() -> ServerConfig.from(Map.of("CHORUS_STORAGE_SCHEMA", "Bad-Schema")))
                .hasMessageContaining("CHORUS_STORAGE_SCHEMA='Bad-Schema'");
        assertThatThrownBy(() -> ServerConfig.from(Map.of("CHORUS_BACKPLANE", "kafka")))
                .hasMessageContaining("CHORUS_BACKPLANE='kafka'");
    }
}

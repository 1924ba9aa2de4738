package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ConfigurationException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The server's own settings: defaults, ports, and the refusals that name the variable and the fix. */
class ServerConfigTest {

    private static final String SECRET = "server-config-test-secret-0123";

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
        assertThatThrownBy(() -> ServerConfig.from(Map.of(
                        "CHORUS_BACKPLANE",
                        "redis",
                        "REDIS_URL",
                        "redis://127.0.0.1:6379",
                        "CHORUS_CLUSTER_SECRET",
                        SECRET)))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("CHORUS_BACKPLANE=redis")
                .hasMessageContaining("DATABASE_URL is not set")
                .satisfies(
                        e -> assertThat(((ConfigurationException) e).variable()).isEqualTo("DATABASE_URL"));
        assertThat(ServerConfig.from(Map.of(
                                "CHORUS_BACKPLANE",
                                "postgres",
                                "DATABASE_URL",
                                "postgres://u@db:5432/app",
                                "CHORUS_CLUSTER_SECRET",
                                SECRET))
                        .embedded())
                .isFalse();
    }

    @Test
    void aClusteredBackplaneWithoutASecretIsRefused_unlessUnsignedIsAllowedExplicitly() {
        for (String backplane : new String[] {"postgres", "redis", "jgroups"}) {
            assertThatThrownBy(() -> ServerConfig.from(Map.of(
                            "CHORUS_BACKPLANE",
                            backplane,
                            "DATABASE_URL",
                            "postgres://u@db:5432/app",
                            "REDIS_URL",
                            "redis://127.0.0.1:6379")))
                    .as(backplane)
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining(backplane + " backplane needs a cluster secret")
                    .hasMessageContaining("openssl rand -base64 32")
                    .hasMessageContaining("CHORUS_ALLOW_UNSIGNED=true")
                    .satisfies(e ->
                            assertThat(((ConfigurationException) e).variable()).isEqualTo("CHORUS_CLUSTER_SECRET"));
        }
        assertThat(ServerConfig.from(Map.of(
                                "CHORUS_BACKPLANE",
                                "postgres",
                                "DATABASE_URL",
                                "postgres://u@db:5432/app",
                                "CHORUS_ALLOW_UNSIGNED",
                                "true"))
                        .chorus()
                        .allowUnsigned())
                .isTrue();
        assertThat(ServerConfig.from(Map.of()).chorus().clusterSecret())
                .as("the in-process default needs no secret")
                .isEmpty();
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

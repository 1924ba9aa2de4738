package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 19, what is public: the probes are public and minimal; the detailed health and the metrics, which
 * name hosts, schemas, replicas and key fingerprints, are an operator's on the main port, and token-free
 * only on the management port, which serves nothing else.
 */
class ManagementSurfaceIT {

    private static ChorusServer server;
    private static Api api;
    private static Api management;

    @BeforeAll
    static void start() {
        server = TestClients.startLocal(Map.of("CHORUS_MANAGEMENT_PORT", "0"));
        api = new Api(URI.create("http://127.0.0.1:" + server.port()));
        management = new Api(URI.create("http://127.0.0.1:" + server.managementPort()));
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void theProbes_arePublicAndMinimal() {
        for (String probe : new String[] {"/health/live", "/health/ready", "/health/started"}) {
            Api.Response response = api.get(probe);
            assertThat(response.status()).as(probe).isEqualTo(200);
            assertThat(response.body()).as(probe).doesNotContain("components", "fingerprint", "jdbc");
        }
    }

    @Test
    void theDetailedHealthAndTheMetrics_areAnOperatorsOnTheMainPort() {
        String admin = api.token(TestClients.ADMIN, TestClients.SECRET);
        for (String path : new String[] {"/health", "/metrics"}) {
            assertThat(api.get(path).status()).as(path + " without a token").isEqualTo(401);
            assertThat(api.get(path, admin).status())
                    .as(path + " for a tenant admin")
                    .isEqualTo(403);
            assertThat(api.operatorGet(path).status())
                    .as(path + " for an operator")
                    .isEqualTo(200);
        }
    }

    @Test
    void theManagementPort_servesThemWithoutAToken_andNothingElse() {
        assertThat(management.get("/health").json().path("components").has("backplane"))
                .isTrue();
        assertThat(management.get("/metrics").body()).contains("chorus_ws_connections");
        assertThat(management.get("/health/ready").status()).isEqualTo(200);
        String writer = api.token(TestClients.WRITER, TestClients.SECRET);
        assertThat(management.get("/api/resources/notes/x", writer).status()).isEqualTo(404);
        assertThat(management.get("/openapi.json").status()).isEqualTo(404);
    }
}

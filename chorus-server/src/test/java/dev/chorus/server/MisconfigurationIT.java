package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Two replicas that share storage but keep the in-process backplane: each one's cache and events would stay
 * local, so health says so and an ERROR says what to set, instead of silently serving stale reads.
 */
class MisconfigurationIT {

    @Test
    void replicasSharingStorageOnTheInProcessBackplaneAreFlagged() throws Exception {
        Map<String, String> env = TestClients.sharedStorage("mis", null);
        try (ServerProcess a = ServerProcess.start("a", env);
                ServerProcess b = ServerProcess.start("b", env)) {
            Api api = new Api(a.uri());
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                JsonNode backplane =
                        api.operatorGet("/health").json().path("components").path("backplane");
                assertThat(backplane.path("status").asText()).isEqualTo("DEGRADED");
                assertThat(backplane.path("reason").asText()).contains("CHORUS_BACKPLANE=postgres");
            });
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> a.printed("ERROR") && a.printed("Misconfiguration") && b.printed("Misconfiguration"));
            // Degraded, not down: the replica still serves.
            assertThat(api.operatorGet("/health").status()).isEqualTo(200);
            assertThat(api.get("/health/ready").status()).isEqualTo(200);
        }
    }
}

package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Three server replicas, each its own process, on one clustered backplane and shared PostgreSQL storage:
 * a write through one is read fresh through the others, its event reaches a socket on another, tokens are
 * valid everywhere, a resumed socket on another replica gets what it missed, and a replica with another key
 * or one too many is flagged. Subclasses supply the transport.
 */
abstract class ServerClusterContract {

    private final List<ServerProcess> replicas = new ArrayList<>();

    /** The replicas' shared environment for the transport: {@link TestClients#sharedStorage} and its URLs. */
    protected abstract Map<String, String> transportEnv();

    @AfterEach
    void stopReplicas() {
        for (ServerProcess replica : replicas) {
            replica.close();
        }
    }

    /** What replica {@code name} (a, b, c or d) needs on top of the shared environment: its own port, say. */
    protected Map<String, String> replicaEnv(String name) {
        return Map.of();
    }

    private ServerProcess start(String name, Map<String, String> transport, String keyPem) throws Exception {
        Map<String, String> env = new HashMap<>(transport);
        env.putAll(replicaEnv(name));
        env.put("CHORUS_JWT_PRIVATE_KEY", keyPem);
        env.put("CHORUS_MAX_INSTANCES", "3");
        ServerProcess replica = ServerProcess.start(name, env);
        replicas.add(replica);
        return replica;
    }

    @Test
    void threeReplicasServeOneConsistentApi() throws Exception {
        Map<String, String> transport = transportEnv();
        String key = TestClients.newKeyPem();
        Api a = new Api(start("a", transport, key).uri());
        Api b = new Api(start("b", transport, key).uri());
        Api c = new Api(start("c", transport, key).uri());
        for (Api replica : List.of(a, b, c)) {
            await().atMost(Duration.ofSeconds(20)).until(() -> replica.liveMembers() == 3);
        }

        // Tokens issued by one replica are valid on the others.
        String writer = a.token(TestClients.WRITER, TestClients.SECRET);
        String reader = b.token(TestClients.READER, TestClients.SECRET);
        assertThat(b.get("/api/resources/docs/d-1", writer).status()).isEqualTo(404);
        assertThat(c.get("/api/resources/docs/d-1", reader).status()).isEqualTo(404);

        try (EventsClient onC = EventsClient.connect(c.base(), reader, null)) {
            assertThat(a.put("/api/resources/docs/d-1", writer, "{\"rev\":1}").status())
                    .isEqualTo(201);
            // B and C cache version 1 ...
            await().atMost(Duration.ofSeconds(5))
                    .until(() -> b.get("/api/resources/docs/d-1", reader).body().equals("{\"rev\":1}"));
            assertThat(c.get("/api/resources/docs/d-1", reader).body()).isEqualTo("{\"rev\":1}");
            JsonNode first = onC.awaitFrame(f -> f.path("event").asText().equals("resource.changed"));
            assertThat(first.path("data").path("version").asLong()).isEqualTo(1);

            // ... and read version 2 once A wrote it: the invalidation reached their caches.
            assertThat(a.put("/api/resources/docs/d-1", writer, "{\"rev\":2}").status())
                    .isEqualTo(200);
            for (Api replica : List.of(b, c)) {
                await().atMost(Duration.ofSeconds(2))
                        .until(() -> replica.get("/api/resources/docs/d-1", reader)
                                .body()
                                .equals("{\"rev\":2}"));
            }
            onC.awaitFrame(f -> f.path("data").path("version").asLong() == 2);

            // A client that leaves C and comes back on B gets exactly what it missed.
            String resumeFrom = onC.lastId();
            onC.close();
            a.put("/api/resources/docs/d-1", writer, "{\"rev\":3}");
            a.put("/api/resources/docs/d-2", writer, "{\"rev\":1}");
            try (EventsClient onB = EventsClient.connect(b.base(), reader, resumeFrom)) {
                await().atMost(Duration.ofSeconds(10)).until(() -> onB.events().size() >= 2);
                assertThat(onB.events())
                        .extracting(f -> f.path("data").path("id").asText() + "@"
                                + f.path("data").path("version").asLong())
                        .containsExactly("d-1@3", "d-2@1");
                assertThat(onB.frames()).noneMatch(f -> f.path("type").asText().equals("reload"));
            }
        }

        // No warning while three replicas run with a maximum of three.
        assertThat(a.get("/api/resources/docs/d-1", reader).header(HttpApiHeaders.WARNING))
                .isNull();

        // A fourth replica, with a key of its own: too many replicas, and keys that do not match.
        Api d = new Api(start("d", transport, TestClients.newKeyPem()).uri());
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            Api.Response response = a.get("/api/resources/docs/d-1", reader);
            assertThat(response.header(HttpApiHeaders.WARNING)).contains("4 replicas are live");
        });
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            JsonNode health = b.operatorGet("/health").json();
            assertThat(health.path("status").asText()).isEqualTo("DEGRADED");
            assertThat(health.path("components").path("keys").path("status").asText())
                    .isEqualTo("DEGRADED");
            assertThat(health.path("components")
                            .path("instances")
                            .path("status")
                            .asText())
                    .isEqualTo("DEGRADED");
        });
        assertThat(d.operatorGet("/health")
                        .json()
                        .path("components")
                        .path("keys")
                        .path("reason")
                        .asText())
                .contains("different keys");
        String foreign = d.token(TestClients.READER, TestClients.SECRET);
        assertThat(a.get("/api/resources/docs/d-1", foreign).status()).isEqualTo(401);
    }
}

package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Webhook destinations on three replica processes: one created through A is built on every replica, each
 * replica POSTs the changes made through it, cluster status shows every replica's counters and a replica
 * that may not reach the host shows why; a replica with the wrong cluster secret is named by verify.
 */
class DestinationsClusterIT {

    private final List<ServerProcess> replicas = new ArrayList<>();
    private HttpServer receiver;

    @AfterEach
    void stop() {
        replicas.forEach(ServerProcess::close);
        if (receiver != null) {
            receiver.stop(0);
        }
    }

    @Test
    void aDestinationDeliversFromEveryReplica() throws Exception {
        List<JsonNode> received = new CopyOnWriteArrayList<>();
        List<String> keys = new CopyOnWriteArrayList<>();
        receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/hook", exchange -> {
            received.add(Api.JSON.readTree(exchange.getRequestBody().readAllBytes()));
            keys.add(exchange.getRequestHeaders().getFirst("Idempotency-Key"));
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        receiver.start();

        Map<String, String> env = TestClients.sharedStorage("dst", "postgres");
        env.put("CHORUS_CLUSTER_SECRET", "the-right-secret-0123456789");
        Map<String, String> restricted = new HashMap<>(env);
        restricted.put("CHORUS_WEBHOOK_HOSTS", "hooks.example.org");
        List<Api> apis = new ArrayList<>();
        for (String name : List.of("a", "b")) {
            ServerProcess replica = ServerProcess.start(name, env);
            replicas.add(replica);
            apis.add(new Api(replica.uri()));
        }
        ServerProcess c = ServerProcess.start("c", restricted);
        replicas.add(c);
        apis.add(new Api(c.uri()));
        Api a = apis.get(0);
        await().atMost(Duration.ofSeconds(20)).until(() -> a.liveMembers() == 3);
        String writer = a.token(TestClients.WRITER, TestClients.SECRET);
        String admin = a.token(TestClients.ADMIN, TestClients.SECRET);

        Api.Response bad = a.send(a.request("/api/destinations")
                .header("Authorization", "Bearer " + writer)
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"url\":\"ftp://x\"}")));
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().path("field").asText()).isEqualTo("/url");

        String url = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
        Api.Response created = a.send(a.request("/api/destinations")
                .header("Authorization", "Bearer " + writer)
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"url\":\"" + url + "\",\"events\":[\"resource.changed\"]}")));
        assertThat(created.status()).isEqualTo(201);
        String id = created.json().path("id").asText();

        // Built on a and b; c's network policy forbids the host, and says so.
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            JsonNode status = a.get("/api/destinations/" + id + "/$status?scope=cluster", writer)
                    .json();
            assertThat(status.path("replicas")).hasSize(3);
            for (JsonNode row : status.path("replicas")) {
                assertThat(row.path("answered").asBoolean()).isTrue();
                String replica = row.path("replica").asText();
                if (replica.startsWith("c/")) {
                    assertThat(row.path("status").path("buildError").asText()).contains("CHORUS_WEBHOOK_HOSTS");
                } else {
                    assertThat(row.path("status").path("built").asBoolean()).isTrue();
                }
            }
        });

        for (int i = 0; i < 2; i++) {
            assertThat(apis.get(i)
                            .put("/api/resources/orders/o-" + i, writer, "{\"n\":" + i + "}")
                            .status())
                    .isEqualTo(201);
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> received.size() >= 2);
        assertThat(received)
                .extracting(n -> n.path("data").path("replica").asText().substring(0, 2))
                .containsExactlyInAnyOrder("a/", "b/");
        assertThat(keys).doesNotContainNull().doesNotHaveDuplicates();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            JsonNode status = a.get("/api/destinations/" + id + "/$status?scope=cluster", writer)
                    .json();
            for (JsonNode row : status.path("replicas")) {
                if (!row.path("replica").asText().startsWith("c/")) {
                    assertThat(row.path("status")
                                    .path("counters")
                                    .path("delivered")
                                    .asLong())
                            .isEqualTo(1);
                }
            }
        });
        assertThat(apis.get(1)
                        .get("/api/destinations/" + id + "/$status", writer)
                        .json()
                        .path("counters")
                        .path("delivered")
                        .asLong())
                .isEqualTo(1);

        // A replica with the wrong cluster secret joins membership (storage) but not the mesh: verify names it.
        Map<String, String> wrong = new HashMap<>(env);
        wrong.put("CHORUS_CLUSTER_SECRET", "a-different-secret-98765432");
        ServerProcess d = ServerProcess.start("d", wrong);
        replicas.add(d);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            JsonNode verify = a.get("/api/cluster/verify", admin).json();
            assertThat(verify.path("passed").asBoolean()).isFalse();
            assertThat(verify.toString()).contains("d/");
        });
    }
}

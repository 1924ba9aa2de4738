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
 * Webhook destinations on replica processes: one created through A is built on every replica, each replica
 * POSTs the changes made through it signed with the one secret, cluster status shows every replica's
 * counters and a replica that may not reach the host shows why; a replica with the wrong cluster secret is
 * named by verify. A replica without the opt-in never connects to a name that resolves inward, even when a
 * replica with the opt-in accepted it.
 */
class DestinationsClusterIT {

    private final List<ServerProcess> replicas = new ArrayList<>();
    private final List<AutoCloseable> receivers = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        replicas.forEach(ServerProcess::close);
        for (AutoCloseable receiver : receivers) {
            receiver.close();
        }
    }

    @Test
    void aDestinationDeliversFromEveryReplica() throws Exception {
        WebhookReceiver receiver = WebhookReceiver.answering(204);
        receivers.add(receiver);

        Map<String, String> env = TestClients.sharedStorage("dst", "postgres");
        env.put("CHORUS_CLUSTER_SECRET", "the-right-secret-0123456789");
        // The receiver is on loopback, which webhooks reach only with an explicit, logged opt-in.
        env.put("CHORUS_WEBHOOK_ALLOW_PRIVATE", "true");
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
        assertThat(replicas.get(0).printed("CHORUS_WEBHOOK_ALLOW_PRIVATE=true: webhooks from this replica may reach"))
                .isTrue();
        await().atMost(Duration.ofSeconds(20)).until(() -> a.liveMembers() == 3);
        String writer = a.token(TestClients.WRITER, TestClients.SECRET);
        String operator = a.token(TestClients.OPERATOR, TestClients.SECRET);

        Api.Response bad = a.send(a.request("/api/destinations")
                .header("Authorization", "Bearer " + writer)
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"url\":\"ftp://x\"}")));
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().path("field").asText()).isEqualTo("/url");

        String url = receiver.url("/hook");
        Api.Response created = a.send(a.request("/api/destinations")
                .header("Authorization", "Bearer " + writer)
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"url\":\"" + url + "\",\"events\":[\"resource.changed\"]}")));
        assertThat(created.status()).isEqualTo(201);
        String id = created.json().path("id").asText();
        String secret = created.json().path("secret").asText();

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
        await().atMost(Duration.ofSeconds(20)).until(() -> receiver.deliveries().size() >= 2);
        List<WebhookReceiver.Delivery> deliveries = receiver.deliveries();
        assertThat(deliveries)
                .extracting(d -> Api.JSON
                        .readTree(d.body())
                        .path("data")
                        .path("replica")
                        .asText()
                        .substring(0, 2))
                .containsExactlyInAnyOrder("a/", "b/");
        assertThat(deliveries)
                .extracting(d -> d.header("Idempotency-Key"))
                .doesNotContainNull()
                .doesNotHaveDuplicates();
        // Every replica signs with the secret stored in the registry, returned once by the create on a.
        for (WebhookReceiver.Delivery delivery : deliveries) {
            assertThat(WebhookVerifier.verify(
                            secret,
                            delivery.header("webhook-id"),
                            delivery.header("webhook-timestamp"),
                            delivery.header("webhook-signature"),
                            delivery.body()))
                    .isTrue();
        }
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
            JsonNode verify = a.get("/api/cluster/verify", operator).json();
            assertThat(verify.path("passed").asBoolean()).isFalse();
            assertThat(verify.toString()).contains("d/");
        });
    }

    @Test
    void aReplicaWithoutTheOptIn_neverConnectsToANameThatResolvesInward() throws Exception {
        ConnectionCounter loopback = new ConnectionCounter();
        receivers.add(loopback);
        Map<String, String> env = TestClients.sharedStorage("dsr", "postgres");
        env.put("CHORUS_CLUSTER_SECRET", "the-right-secret-0123456789");
        Map<String, String> optedIn = new HashMap<>(env);
        optedIn.put("CHORUS_WEBHOOK_ALLOW_PRIVATE", "true");
        ServerProcess a = ServerProcess.start("a", optedIn);
        replicas.add(a);
        ServerProcess b = ServerProcess.start("b", env);
        replicas.add(b);
        Api apiA = new Api(a.uri());
        Api apiB = new Api(b.uri());
        await().atMost(Duration.ofSeconds(20)).until(() -> apiA.liveMembers() == 2);
        assertThat(b.printed("CHORUS_WEBHOOK_ALLOW_PRIVATE")).isFalse();
        String writer = apiA.token(TestClients.WRITER, TestClients.SECRET);

        // a accepts the name (its operator opted in); b builds the sender, since the URL alone names no address.
        Api.Response created = apiA.send(apiA.request("/api/destinations")
                .header("Authorization", "Bearer " + writer)
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"url\":\"http://localhost:" + loopback.port() + "/hook\"}")));
        assertThat(created.status()).isEqualTo(201);
        String id = created.json().path("id").asText();
        await().atMost(Duration.ofSeconds(20))
                .untilAsserted(() -> assertThat(apiB.get("/api/destinations/" + id + "/$status", writer)
                                .json()
                                .path("built")
                                .asBoolean())
                        .isTrue());

        // A change made through b: b resolves localhost at the connection, finds loopback, and refuses.
        assertThat(apiB.put("/api/resources/orders/o-b", writer, "{}").status()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            JsonNode status =
                    apiB.get("/api/destinations/" + id + "/$status", writer).json();
            assertThat(status.path("lastError").asText()).isEqualTo("blocked address");
            assertThat(status.path("counters").path("failed").asLong()).isEqualTo(1);
            assertThat(status.path("counters").path("retries").asLong()).isZero();
        });
        assertThat(loopback.accepted()).isZero();
    }
}

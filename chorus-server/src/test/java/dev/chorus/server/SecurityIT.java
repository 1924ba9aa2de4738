package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 19, against three real replica processes on the PostgreSQL backplane: no event crosses a tenant
 * whoever sends it and wherever the sockets are, live or on resume; only an operator acts cluster-wide; the
 * server's own event types cannot be forged; only an agent client may be an agent, and only its own.
 */
class SecurityIT {

    private static final List<ServerProcess> replicas = new ArrayList<>();
    private static Api a;
    private static Api b;
    private static Api c;

    private final List<EventsClient> sockets = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        Map<String, String> env = TestClients.sharedStorage("sec", "postgres");
        for (String name : List.of("a", "b", "c")) {
            replicas.add(ServerProcess.start(name, env));
        }
        a = new Api(replicas.get(0).uri());
        b = new Api(replicas.get(1).uri());
        c = new Api(replicas.get(2).uri());
        for (Api replica : List.of(a, b, c)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> replica.liveMembers() == 3);
        }
    }

    @AfterAll
    static void stop() {
        replicas.forEach(ServerProcess::close);
    }

    @AfterEach
    void closeSockets() {
        sockets.forEach(EventsClient::close);
    }

    private EventsClient connect(Api replica, String token, String lastEventId) throws Exception {
        EventsClient client = EventsClient.connect(replica.base(), token, lastEventId);
        sockets.add(client);
        return client;
    }

    private static String token(String client) {
        return a.token(client, TestClients.SECRET);
    }

    private static int post(Api replica, String token, String body) {
        return replica.send(HttpRequest.newBuilder(replica.base().resolve("/api/events"))
                        .header("Authorization", "Bearer " + token)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body)))
                .status();
    }

    /** An event to {@code to} whose data names the sender's tenant, so a receiver can tell where it came from. */
    private static String event(String to, String fromTenant, String extra) {
        return "{\"type\":\"probe\",\"to\":\"" + to + "\"" + extra + ",\"data\":{\"from\":\"" + fromTenant + "\"}}";
    }

    @Test
    void twoTenantsWithTheSameUser_neverReceiveEachOthersEvents_liveOrOnResume_fromAnyRole() throws Exception {
        String acmeAlice = token(TestClients.WRITER);
        String globexAlice = token(TestClients.GLOBEX_ALICE);
        Map<String, String> acmeSenders = Map.of(
                "writer", acmeAlice,
                "reader", token(TestClients.READER),
                "admin", token(TestClients.ADMIN));
        EventsClient acme = connect(a, acmeAlice, null);
        EventsClient globex = connect(b, globexAlice, null);
        EventsClient globexOnC = connect(c, globexAlice, null);

        List<Api> all = List.of(a, b, c);
        int i = 0;
        for (String sender : acmeSenders.values()) {
            Api through = all.get(i++ % 3);
            post(through, sender, event("user", "acme", ",\"user\":\"alice\""));
            post(through, sender, event("tenant", "acme", ""));
            post(through, sender, event("everyone", "acme", ""));
        }
        post(c, globexAlice, event("user", "globex", ",\"user\":\"alice\""));
        post(a, globexAlice, event("tenant", "globex", ""));
        post(b, token(TestClients.OPERATOR), "{\"type\":\"marker\",\"to\":\"everyone\"}");

        for (EventsClient socket : List.of(acme, globex, globexOnC)) {
            socket.awaitFrame(f -> f.path("event").asText().equals("marker"));
        }
        assertOnlyFrom(acme, "acme");
        assertOnlyFrom(globex, "globex");
        assertOnlyFrom(globexOnC, "globex");
        assertThat(acme.events())
                .filteredOn(f -> f.path("event").asText().equals("probe"))
                .isNotEmpty();
        assertThat(globex.events())
                .filteredOn(f -> f.path("event").asText().equals("probe"))
                .hasSize(2);

        // Resume on another replica, after events of both tenants were missed.
        String lastId = globex.lastId();
        globex.close();
        post(a, acmeAlice, event("user", "acme", ",\"user\":\"alice\""));
        post(a, acmeAlice, event("tenant", "acme", ""));
        post(b, globexAlice, event("user", "globex", ",\"user\":\"alice\""));
        post(c, token(TestClients.OPERATOR), "{\"type\":\"marker2\",\"to\":\"everyone\"}");
        EventsClient resumed = connect(c, globexAlice, lastId);
        resumed.awaitFrame(f -> f.path("event").asText().equals("marker2"));
        assertOnlyFrom(resumed, "globex");
        assertThat(resumed.events())
                .filteredOn(f -> f.path("event").asText().equals("probe"))
                .hasSize(1);
    }

    private static void assertOnlyFrom(EventsClient socket, String tenant) {
        assertThat(socket.events())
                .filteredOn(f -> f.path("event").asText().equals("probe"))
                .allSatisfy(f -> assertThat(f.path("data").path("from").asText())
                        .as("an event %s received", f)
                        .isEqualTo(tenant));
    }

    @Test
    void onlyAnOperator_broadcastsToEveryTenant_sendsAcrossTenants_runsVerify_andSeesTheClusterDetails() {
        String admin = token(TestClients.ADMIN);
        String operator = token(TestClients.OPERATOR);

        assertThat(post(a, admin, event("everyone", "acme", ""))).isEqualTo(403);
        assertThat(post(a, admin, event("user", "acme", ",\"user\":\"alice\",\"tenant\":\"globex\"")))
                .isEqualTo(403);
        assertThat(post(a, admin, event("tenant", "acme", ",\"tenant\":\"globex\"")))
                .isEqualTo(403);
        assertThat(a.get("/api/cluster/verify", admin).status()).isEqualTo(403);
        JsonNode summary = a.get("/api/cluster", admin).json();
        assertThat(summary.has("members")).isFalse();
        assertThat(summary.path("live").asInt()).isEqualTo(3);

        assertThat(post(a, operator, event("everyone", "acme", ""))).isEqualTo(202);
        assertThat(post(a, operator, event("user", "acme", ",\"user\":\"alice\",\"tenant\":\"globex\"")))
                .isEqualTo(202);
        assertThat(a.get("/api/cluster/verify", operator).status()).isEqualTo(200);
        assertThat(a.get("/api/cluster", operator).json().path("members").size())
                .isEqualTo(3);
    }

    @Test
    void theServersOwnEventTypes_cannotBeSentByAClient() throws Exception {
        String writer = token(TestClients.WRITER);
        EventsClient socket = connect(a, writer, null);

        for (String type : List.of("resource.changed", "resource.deleted", "chorus.anything")) {
            Api.Response refused = a.send(HttpRequest.newBuilder(a.base().resolve("/api/events"))
                    .header("Authorization", "Bearer " + writer)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(
                            "{\"type\":\"" + type + "\",\"to\":\"user\",\"user\":\"alice\"}")));
            assertThat(refused.status()).isEqualTo(400);
            assertThat(refused.json().path("field").asText()).isEqualTo("/type");
        }
        assertThat(post(a, writer, "{\"type\":\"\",\"to\":\"user\",\"user\":\"alice\"}"))
                .isEqualTo(400);
        post(a, writer, "{\"type\":\"app.done\",\"to\":\"user\",\"user\":\"alice\"}");
        socket.awaitFrame(f -> f.path("event").asText().equals("app.done"));
        assertThat(socket.events()).extracting(f -> f.path("event").asText()).containsExactly("app.done");
    }

    @Test
    void onlyAnAgentClient_connectsAsAnAgent_andOnlyAsItsOwnAgents() throws Exception {
        for (String client : List.of(TestClients.READER, TestClients.WRITER, TestClients.OPERATOR)) {
            assertThatThrownBy(() -> agentSocket(token(client), "agent-1"))
                    .as("client %s as agent-1", client)
                    .hasStackTraceContaining("403");
        }
        String agent = token(TestClients.AGENT);
        assertThatThrownBy(() -> agentSocket(agent, "someone-else")).hasStackTraceContaining("403");
        assertThat(agentSocket(agent, "agent-7").path("type").asText()).isEqualTo("connected");
    }

    /** Connects to /ws/agents and returns the first frame; throws with the upgrade's status when refused. */
    private JsonNode agentSocket(String token, String agentId) throws Exception {
        URI uri = URI.create("ws://" + a.base().getHost() + ":" + a.base().getPort() + "/ws/agents?agentId=" + agentId
                + "&access_token=" + Api.encode(token));
        try (AgentProbe probe = AgentProbe.connect(uri)) {
            return probe.first();
        }
    }
}

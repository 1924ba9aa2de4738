package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
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
 * Issue 19, socket lifecycle: a socket lives no longer than its token and says so with a code a client acts
 * on (4001: new token, resume with the last id, nothing missed); a page of a foreign origin cannot open one;
 * one user cannot hold more than the cap.
 */
class SocketSecurityIT {

    /** Short, so the tests see tokens expire; long enough for a loaded machine to finish what comes before. */
    private static final Duration TTL = Duration.ofSeconds(4);

    private static final int MAX_PER_USER = 3;

    private static ChorusServer server;
    private static Api api;
    private final List<EventsClient> sockets = new ArrayList<>();

    @BeforeAll
    static void start() {
        server = TestClients.startLocal(
                Map.of("CHORUS_TOKEN_TTL", TTL.toSeconds() + "s", "CHORUS_ALLOWED_ORIGINS", "https://app.example.org"));
        api = new Api(URI.create("http://127.0.0.1:" + server.port()));
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    @AfterEach
    void closeSockets() {
        sockets.forEach(EventsClient::close);
    }

    private EventsClient connect(String token, String lastEventId) throws Exception {
        EventsClient client = EventsClient.connect(api.base(), token, lastEventId);
        sockets.add(client);
        return client;
    }

    private static void post(String token, String type) {
        int status = api.send(HttpRequest.newBuilder(api.base().resolve("/api/events"))
                        .header("Authorization", "Bearer " + token)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"type\":\"" + type + "\",\"to\":\"tenant\"}")))
                .status();
        assertThat(status).isEqualTo(202);
    }

    @Test
    void anEventSocket_closesWhenItsTokenExpires_andAResumeWithANewTokenMissesNothing() throws Exception {
        String token = api.token(TestClients.WRITER, TestClients.SECRET);
        EventsClient socket = connect(token, null);
        post(token, "before");
        socket.awaitFrame(f -> f.path("event").asText().equals("before"));

        assertThat(socket.awaitClose()).isEqualTo(4001);
        assertThat(socket.closeReason()).contains("token expired");
        String lastId = socket.lastId();

        String fresh = api.token(TestClients.WRITER, TestClients.SECRET);
        post(fresh, "while-away");
        EventsClient resumed = connect(fresh, lastId);
        resumed.awaitFrame(f -> f.path("event").asText().equals("while-away"));
        assertThat(resumed.events()).extracting(f -> f.path("event").asText()).containsExactly("while-away");
    }

    @Test
    void anAgentSocket_closesWhenItsTokenExpires() throws Exception {
        String token = api.token(TestClients.AGENT, TestClients.SECRET);
        URI uri = URI.create(
                "ws://127.0.0.1:" + server.port() + "/ws/agents?agentId=agent-ttl&access_token=" + Api.encode(token));
        try (AgentProbe agent = AgentProbe.connect(uri)) {
            assertThat(agent.first().path("type").asText()).isEqualTo("connected");
            await().atMost(TTL.plusSeconds(10)).until(agent::isClosed);
            assertThat(agent.closeCode()).isEqualTo(4001);
        }
    }

    @Test
    void aPageOfAForeignOrigin_cannotOpenASocket_anAllowedOneAndTheServersOwnCan() throws Exception {
        String token = api.token(TestClients.WRITER, TestClients.SECRET);
        String events = "/ws/events?access_token=" + Api.encode(token);

        assertThat(RawUpgrade.send(server.port(), events, "Origin: https://evil.example")
                        .code())
                .isEqualTo(403);
        assertThat(RawUpgrade.send(server.port(), events, "Origin: https://app.example.org")
                        .code())
                .isEqualTo(101);
        assertThat(RawUpgrade.send(server.port(), events, "Origin: http://127.0.0.1:" + server.port())
                        .code())
                .isEqualTo(101);
        assertThat(RawUpgrade.send(server.port(), events).code())
                .as("no Origin: not a browser")
                .isEqualTo(101);
        String agent = "/ws/agents?agentId=agent-o&access_token="
                + Api.encode(api.token(TestClients.AGENT, TestClients.SECRET));
        assertThat(RawUpgrade.send(server.port(), agent, "Origin: https://evil.example")
                        .code())
                .isEqualTo(403);
    }

    @Test
    void oneUser_cannotHoldMoreSocketsThanTheCap() throws Exception {
        // A replica of its own with the default token lifetime: the 2 s tokens above would close the sockets
        // that fill the cap before the test is done on a slow machine.
        try (ChorusServer capped =
                TestClients.startLocal(Map.of("CHORUS_WS_MAX_PER_USER", Integer.toString(MAX_PER_USER)))) {
            Api local = new Api(URI.create("http://127.0.0.1:" + capped.port()));
            String token = local.token(TestClients.READER, TestClients.SECRET);
            List<EventsClient> full = new ArrayList<>();
            for (int i = 0; i < MAX_PER_USER; i++) {
                full.add(EventsClient.connect(local.base(), token, null));
            }
            sockets.addAll(full);
            EventsClient over = EventsClient.open(local.base(), token);
            sockets.add(over);
            assertThat(over.awaitClose()).isEqualTo(4029);
            assertThat(over.closeReason()).contains("the most allowed");

            // Another user is not affected, and closing one makes room again.
            sockets.add(EventsClient.connect(local.base(), local.token(TestClients.WRITER, TestClients.SECRET), null));
            full.getFirst().close();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                EventsClient again = EventsClient.open(local.base(), token);
                sockets.add(again);
                JsonNode first = again.awaitFirst();
                assertThat(first.path("type").asText()).isEqualTo("hello");
            });
        }
    }
}

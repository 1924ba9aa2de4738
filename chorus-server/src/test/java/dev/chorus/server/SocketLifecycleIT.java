package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.chorus.testkit.FaultProxy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Issue 18: every socket, of either kind, is released however it ends (the client closes, the server closes
 * it for a bad frame, a slow read or a newer connection, the peer goes silent, the connection is reset), and
 * a healthy idle socket is never closed. Checked on the replica's own counts (the hub's sinks, its open
 * sockets, its agents) and on the heap after a full GC.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SocketLifecycleIT {

    /** Sockets of each kind opened and closed across the close paths. */
    private static final int PER_KIND = 2_000;
    /** What the churn may leave on the heap: Jetty's buffer pools and the JIT, not 25 KiB per socket. */
    private static final long HEAP_TOLERANCE_BYTES = 12L << 20;

    private static final Duration PING_INTERVAL = Duration.ofMillis(400);
    private static final Duration PONG_TIMEOUT = Duration.ofMillis(600);
    private static final Duration OLD_IDLE_TIMEOUT = Duration.ofSeconds(30);

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private static ChorusServer server;
    private static Api api;
    private static String token;
    private static String agentToken;
    /** A replica with the default keep-alive, for the idle socket. */
    private static ChorusServer defaults;

    private static Client idle;
    private static long idleSince;
    private static Map<String, String> env;

    @BeforeAll
    static void start() throws Exception {
        env = new HashMap<>(TestClients.env(TestClients.newKeyPem()));
        env.put("PORT", "0");
        env.put("CHORUS_HTTP_HOST", "127.0.0.1");
        defaults = ChorusServer.start(ServerConfig.from(env));
        idle = Client.open(uri(defaults, "/ws/events", token(defaults), "")).join();
        idleSince = System.nanoTime();

        env.put("CHORUS_WS_MAX_PER_USER", Integer.toString(10 * PER_KIND)); // one user opens them all
        env.put("CHORUS_WS_PING_INTERVAL", PING_INTERVAL.toMillis() + "ms");
        env.put("CHORUS_WS_PONG_TIMEOUT", PONG_TIMEOUT.toMillis() + "ms");
        server = ChorusServer.start(ServerConfig.from(env));
        api = new Api(URI.create("http://127.0.0.1:" + server.port()));
        token = api.token(TestClients.WRITER, TestClients.SECRET);
        agentToken = api.token(TestClients.AGENT, TestClients.SECRET);
    }

    @AfterAll
    static void stop() {
        if (idle != null) {
            idle.abort();
        }
        if (server != null) {
            server.close();
        }
        if (defaults != null) {
            defaults.close();
        }
    }

    private static String token(ChorusServer replica) {
        return new Api(URI.create("http://127.0.0.1:" + replica.port())).token(TestClients.WRITER, TestClients.SECRET);
    }

    @Test
    @Order(1)
    void socketsOfEveryKind_closedEveryWay_leaveNothingBehind() throws Exception {
        churn(100, 100); // warm-up: classes, JIT, Jetty's pools
        awaitNothingOpen();
        long before = heapAfterGc();

        churn(PER_KIND, PER_KIND);

        awaitNothingOpen();
        long after = heapAfterGc();
        System.out.printf(
                "Heap after GC: %d KiB before, %d KiB after %d sockets opened and closed%n",
                before >> 10, after >> 10, 2 * PER_KIND);
        assertThat(after - before)
                .as("heap after GC grew by %d KiB over %d sockets", (after - before) >> 10, 2 * PER_KIND)
                .isLessThan(HEAP_TOLERANCE_BYTES);
    }

    /** Opens {@code events} event sockets and {@code agents} agent sockets, closing each fifth a different way. */
    private void churn(int events, int agents) throws Exception {
        String path = "/ws/events";
        int each = events / 4;
        closeByClient(path, each, i -> "");
        resetByNetwork(path, each, i -> "");
        closeByServerForABadFrame(path, each, i -> "", "not json");
        deadPeer(path, events - 3 * each, i -> "");

        String agent = "/ws/agents";
        int share = agents / 5;
        closeByClient(agent, share, i -> "&agentId=a-client-" + i);
        resetByNetwork(agent, share, i -> "&agentId=a-reset-" + i);
        closeByServerForABadFrame(agent, share, i -> "&agentId=a-bad-" + i, "{\"type\":\"dance\"}");
        deadPeer(agent, share, i -> "&agentId=a-dead-" + i);
        superseded(agents - 4 * share);
    }

    private static void closeByClient(String path, int count, Function<Integer, String> query) {
        for (Client client : openAll(server.port(), path, count, query)) {
            client.socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").join();
        }
        awaitNothingOpen();
    }

    private static void resetByNetwork(String path, int count, Function<Integer, String> query) {
        try (FaultProxy proxy = FaultProxy.start("127.0.0.1", server.port())) {
            List<Client> clients = openAll(proxy.port(), path, count, query);
            proxy.cut();
            awaitNothingOpen();
            clients.forEach(Client::abort);
        }
    }

    private static void closeByServerForABadFrame(
            String path, int count, Function<Integer, String> query, String frame) {
        List<Client> clients = openAll(server.port(), path, count, query);
        for (Client client : clients) {
            client.socket.sendText(frame, true);
        }
        for (Client client : clients) {
            assertThat(client.closed.join()).isEqualTo(1008);
        }
        awaitNothingOpen();
    }

    private static void deadPeer(String path, int count, Function<Integer, String> query) {
        try (FaultProxy proxy = FaultProxy.start("127.0.0.1", server.port())) {
            List<Client> clients = openAll(proxy.port(), path, count, query);
            proxy.freeze();
            // Found by the keep-alive: silence for the ping interval, then no pong for the pong timeout.
            await().atMost(PING_INTERVAL.plus(PONG_TIMEOUT).plusSeconds(10))
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> openSockets("events") + openSockets("agents") == 0);
            clients.forEach(Client::abort);
        }
        awaitNothingOpen();
    }

    private static void superseded(int count) {
        List<Client> first = openAll(server.port(), "/ws/agents", count, i -> "&agentId=a-twice-" + i);
        List<Client> second = openAll(server.port(), "/ws/agents", count, i -> "&agentId=a-twice-" + i);
        for (Client client : first) {
            assertThat(client.closed.join()).isEqualTo(4000);
        }
        for (Client client : second) {
            client.socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").join();
        }
        awaitNothingOpen();
    }

    @Test
    @Order(2)
    void aClientThatStopsReading_isClosedAndReleased() throws Exception {
        List<Client> readers = openAll(server.port(), "/ws/events", 5, i -> "");
        List<Client> stalled = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            stalled.add(Client.stalled(uri(server, "/ws/events", token, "")).join());
        }
        String big = "\"" + "x".repeat(256 * 1024) + "\"";
        // Until the server gives up on the stalled clients: their kernel buffers fill, a send waits 10 s.
        await().atMost(Duration.ofSeconds(120))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> {
                    api.send(HttpRequest.newBuilder(api.base().resolve("/api/events"))
                            .header("Authorization", "Bearer " + token)
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(
                                    "{\"type\":\"bulk\",\"to\":\"tenant\",\"data\":" + big + "}")));
                    return openSockets("events") == readers.size();
                });
        stalled.forEach(Client::abort);
        readers.forEach(Client::abort);
        awaitNothingOpen();
    }

    @Test
    @Order(3)
    void permessageDeflate_isOffUnlessSwitchedOn() throws Exception {
        assertThat(negotiatedExtensions(server.port(), token)).isNull();

        Map<String, String> compressing = new HashMap<>(env);
        compressing.put("CHORUS_WS_COMPRESSION", "true");
        try (ChorusServer replica = ChorusServer.start(ServerConfig.from(compressing))) {
            assertThat(negotiatedExtensions(replica.port(), token(replica))).contains("permessage-deflate");
        }
    }

    /** The extensions the server accepts from a client that offers permessage-deflate, as browsers do. */
    private static String negotiatedExtensions(int port, String token) throws IOException {
        RawUpgrade upgrade = RawUpgrade.send(
                port,
                "/ws/events?access_token=" + Api.encode(token),
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits");
        assertThat(upgrade.code()).as("the upgrade's status").isEqualTo(101);
        return upgrade.headers().get("sec-websocket-extensions");
    }

    @Test
    @Order(4)
    void anIdleHealthySocket_staysOpenForThreeTimesTheOldIdleTimeout() {
        Duration wanted = OLD_IDLE_TIMEOUT.multipliedBy(3);
        await().atMost(wanted.plusSeconds(30))
                .pollInterval(Duration.ofSeconds(1))
                .until(() -> idle.closed.isDone() || System.nanoTime() - idleSince > wanted.toNanos());
        assertThat(idle.closed).as("the idle socket was closed").isNotDone();
        assertThat(idle.hello().path("reconnectJitterMs").asLong()).isEqualTo(5_000);
    }

    private static void awaitNothingOpen() {
        await().atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> {
                    Map<String, Double> metrics = metrics();
                    assertThat(metrics.get("chorus_events_sinks"))
                            .as("the hub's sinks")
                            .isZero();
                    assertThat(metrics.get("chorus_ws_connections{kind=\"events\"}"))
                            .as("event sockets")
                            .isZero();
                    assertThat(metrics.get("chorus_ws_connections{kind=\"agents\"}"))
                            .as("agent sockets")
                            .isZero();
                });
        assertThat(metrics().get("chorus_agents_local")).as("agents held").isZero();
    }

    private static double openSockets(String kind) {
        return metrics().get("chorus_ws_connections{kind=\"" + kind + "\"}");
    }

    private static final Pattern METRIC = Pattern.compile("^(\\S+) (\\S+)$");

    private static Map<String, Double> metrics() {
        Map<String, Double> values = new HashMap<>();
        for (String line : api.operatorGet("/metrics").body().split("\n")) {
            Matcher m = METRIC.matcher(line);
            if (!line.startsWith("#") && m.matches()) {
                values.put(m.group(1), Double.parseDouble(m.group(2)));
            }
        }
        return values;
    }

    private static long heapAfterGc() {
        long used = Long.MAX_VALUE;
        // The smallest of a few: a collection can end while another thread is allocating.
        for (int i = 0; i < 5; i++) {
            System.gc();
            used = Math.min(
                    used,
                    ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    private static List<Client> openAll(int port, String path, int count, Function<Integer, String> query) {
        List<CompletableFuture<Client>> opening = new ArrayList<>();
        List<Client> open = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            opening.add(Client.open(uri(port, path, token, query.apply(i))));
            if (opening.size() == 64) {
                opening.forEach(f -> open.add(f.join()));
                opening.clear();
            }
        }
        opening.forEach(f -> open.add(f.join()));
        for (Client client : open) {
            client.awaitReady();
        }
        return open;
    }

    private static URI uri(ChorusServer replica, String path, String token, String query) {
        return uri(replica.port(), path, token, query);
    }

    private static URI uri(int port, String path, String token, String query) {
        // Agent sockets need the agent client's token; the tests name event sockets' token themselves.
        String used = path.equals("/ws/agents") ? agentToken : token;
        return URI.create("ws://127.0.0.1:" + port + path + "?access_token=" + Api.encode(used) + query);
    }

    /** A client socket that keeps its frames and how it closed; the JDK client answers pings by itself. */
    private static final class Client implements WebSocket.Listener {
        final List<JsonNode> frames = new CopyOnWriteArrayList<>();
        final CompletableFuture<Integer> closed = new CompletableFuture<>();
        /** The server's first frame: hello on events, connected on agents. */
        final CompletableFuture<JsonNode> first = new CompletableFuture<>();

        private final boolean reading;
        private final StringBuilder partial = new StringBuilder();
        WebSocket socket;

        private Client(boolean reading) {
            this.reading = reading;
        }

        static CompletableFuture<Client> open(URI uri) {
            Client client = new Client(true);
            return HTTP.newWebSocketBuilder().buildAsync(uri, client).thenApply(ws -> {
                client.socket = ws;
                return client;
            });
        }

        /** A client that reads its first frame and then nothing: the server's writes back up. */
        static CompletableFuture<Client> stalled(URI uri) {
            Client client = new Client(false);
            return HTTP.newWebSocketBuilder().buildAsync(uri, client).thenApply(ws -> {
                client.socket = ws;
                return client;
            });
        }

        @Override
        public void onOpen(WebSocket webSocket) {
            webSocket.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    JsonNode frame = Api.JSON.readTree(partial.toString());
                    frames.add(frame);
                    first.complete(frame);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                partial.setLength(0);
            }
            if (reading) {
                webSocket.request(1);
            }
            return null;
        }

        @Override
        public CompletionStage<?> onPing(WebSocket webSocket, ByteBuffer message) {
            webSocket.request(1);
            return null; // the JDK client answers with a pong by itself
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closed.complete(statusCode);
            first.completeExceptionally(
                    new AssertionError("closed before its first frame: " + statusCode + " " + reason));
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closed.complete(-1);
            first.completeExceptionally(error);
        }

        JsonNode hello() {
            return frames.stream()
                    .filter(f -> f.path("type").asText().equals("hello"))
                    .findFirst()
                    .orElse(null);
        }

        /** Waits for the server's first frame. */
        void awaitReady() {
            try {
                first.get(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError("no first frame from the server", e);
            }
        }

        void abort() {
            socket.abort();
        }
    }
}

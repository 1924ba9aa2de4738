package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.chorus.server.auth.Clients;
import dev.chorus.server.destinations.WebhookSignature;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Webhook destinations on real replicas in this JVM, driven over HTTP: internal targets refused by default
 * and never connected to, tenants whose names extend one another kept apart, the per-tenant cap, signatures
 * a receiver verifies with the documented snippet, and delivery errors that tell tenants the class only.
 *
 * <p>Two replicas: {@code closed} runs the defaults; {@code open} lists 127.0.0.1 in
 * {@code CHORUS_WEBHOOK_HOSTS}, so the test receivers on loopback can be reached, and caps tenants at 3.
 * No URL here names a host that needs DNS: only literals and {@code localhost} (the hosts file).
 */
class WebhookSafetyIT {

    private static final Duration WAIT = Duration.ofSeconds(20);

    private static ChorusServer closed;
    private static ChorusServer open;
    private static Api closedApi;
    private static Api openApi;

    @BeforeAll
    static void start() {
        Map<String, String> env = new HashMap<>();
        env.put("CHORUS_CLIENTS", clients());
        env.put("CHORUS_JWT_PRIVATE_KEY", TestClients.newKeyPem());
        env.put("PORT", "0");
        env.put("CHORUS_HTTP_HOST", "127.0.0.1");
        env.put("CHORUS_CHANNEL", "closed_" + UUID.randomUUID().toString().substring(0, 8));
        closed = ChorusServer.start(ServerConfig.from(env));
        closedApi = new Api(URI.create("http://127.0.0.1:" + closed.port()));

        env.put("CHORUS_CHANNEL", "open_" + UUID.randomUUID().toString().substring(0, 8));
        env.put("CHORUS_WEBHOOK_HOSTS", "127.0.0.1");
        env.put("CHORUS_WEBHOOK_MAX_PER_TENANT", "3");
        open = ChorusServer.start(ServerConfig.from(env));
        openApi = new Api(URI.create("http://127.0.0.1:" + open.port()));
    }

    @AfterAll
    static void stop() {
        if (closed != null) {
            closed.close();
        }
        if (open != null) {
            open.close();
        }
    }

    /** Clients of tenants whose names contain, extend or mimic the encoding of {@code acme}. */
    private static String clients() {
        String hash = Clients.hash(TestClients.SECRET);
        List<String> clients = new ArrayList<>();
        for (String[] c : new String[][] {
            {"acme-app", "acme", "\"reader\",\"writer\""},
            {"acme-eu-app", "acme/eu", "\"reader\",\"writer\""},
            {"acme-1-app", "acme:1", "\"reader\",\"writer\""},
            {"four-acme-app", "4:acme", "\"reader\",\"writer\""},
            {"capped-app", "capped", "\"reader\",\"writer\""},
            {"signed-app", "signed", "\"reader\",\"writer\""},
            {"ops-app", "ops", "\"reader\",\"writer\""},
            {"ops-operator", "ops", "\"reader\",\"writer\",\"operator\""}
        }) {
            clients.add("{\"id\":\"" + c[0] + "\",\"secretHash\":\"" + hash + "\",\"user\":\"u-" + c[0]
                    + "\",\"tenant\":\"" + c[1] + "\",\"roles\":[" + c[2] + "]}");
        }
        return "[" + String.join(",", clients) + "]";
    }

    @Test
    void create_internalTargetsWithoutOptIn_areRefusedAndNeverConnected() throws Exception {
        try (ConnectionCounter counter = new ConnectionCounter()) {
            int port = counter.port();
            String writer = closedApi.token("acme-app", TestClients.SECRET);
            List<String> urls = List.of(
                    "http://127.0.0.1:" + port + "/hook",
                    "http://[::1]:" + port + "/hook",
                    "http://0.0.0.0:" + port + "/hook",
                    "http://[::]:" + port + "/hook",
                    "http://[::ffff:127.0.0.1]:" + port + "/hook",
                    "http://localhost:" + port + "/hook",
                    "http://169.254.169.254/latest/meta-data/",
                    "http://[::ffff:169.254.169.254]/latest/meta-data/",
                    "http://10.0.0.1/hook",
                    "http://172.16.0.1/hook",
                    "http://192.168.1.1/hook",
                    "http://100.64.0.1/hook",
                    "http://[fd00::1]/hook",
                    "http://[fe80::1]/hook",
                    "http://224.0.0.1/hook",
                    "http://255.255.255.255/hook");
            for (String url : urls) {
                Api.Response refused = create(closedApi, writer, url);
                assertThat(refused.status()).as(url).isEqualTo(400);
                assertThat(refused.header("Content-Type")).startsWith("application/problem+json");
                assertThat(refused.json().path("field").asText()).isEqualTo("/url");
                assertThat(refused.json().path("detail").asText()).as(url).contains("use a public http(s) URL");
            }
            String byName = create(closedApi, writer, "http://localhost:" + port + "/hook")
                    .json()
                    .path("detail")
                    .asText();
            assertThat(byName)
                    .contains("url host 'localhost' resolves to a loopback address")
                    .contains("CHORUS_WEBHOOK_HOSTS")
                    .contains("CHORUS_WEBHOOK_ALLOW_PRIVATE=true")
                    .doesNotContain("127.0.0.1");
            Api.Response numeric = create(closedApi, writer, "http://2130706433:" + port + "/hook");
            assertThat(numeric.status()).isEqualTo(400);
            assertThat(numeric.json().path("detail").asText()).contains("four decimal numbers");

            assertThat(closedApi.get("/api/destinations", writer).json().path("destinations"))
                    .isEmpty();
            assertThat(closedApi
                            .put("/api/resources/orders/o-closed", writer, "{}")
                            .status())
                    .isEqualTo(201);
            assertThat(counter.accepted()).isZero();

            // The witness works: a connection to it is counted.
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            }
            await().atMost(WAIT).until(() -> counter.accepted() == 1);
        }
    }

    @Test
    void create_withAnAllowList_refusesEveryOtherHost() {
        String writer = openApi.token("acme-app", TestClients.SECRET);

        Api.Response other = create(openApi, writer, "http://localhost:9/hook");
        assertThat(other.status()).isEqualTo(400);
        assertThat(other.json().path("detail").asText())
                .contains("url host 'localhost' is not in CHORUS_WEBHOOK_HOSTS");
        assertThat(create(openApi, writer, "http://10.0.0.1/hook").status()).isEqualTo(400);
    }

    @Test
    void destinations_ofATenantWhoseNameExtendsAnother_areInvisibleToIt() throws Exception {
        try (WebhookReceiver acmeReceiver = WebhookReceiver.answering(204);
                WebhookReceiver euReceiver = WebhookReceiver.answering(204)) {
            String acme = openApi.token("acme-app", TestClients.SECRET);
            String acmeId = create(openApi, acme, acmeReceiver.url("/acme"))
                    .json()
                    .path("id")
                    .asText();

            for (String client : List.of("acme-eu-app", "acme-1-app", "four-acme-app")) {
                String other = openApi.token(client, TestClients.SECRET);
                assertThat(openApi.get("/api/destinations", other).json().path("destinations"))
                        .as(client)
                        .isEmpty();
                assertThat(openApi.get("/api/destinations/" + acmeId, other).status())
                        .isEqualTo(404);
                assertThat(openApi.get("/api/destinations/" + acmeId + "/$status", other)
                                .status())
                        .isEqualTo(404);
                assertThat(openApi.get("/api/destinations/" + acmeId + "/$status?scope=cluster", other)
                                .status())
                        .isEqualTo(404);
                assertThat(openApi.delete("/api/destinations/" + acmeId, other).status())
                        .isEqualTo(404);
            }

            String eu = openApi.token("acme-eu-app", TestClients.SECRET);
            String euId =
                    create(openApi, eu, euReceiver.url("/eu")).json().path("id").asText();
            assertThat(openApi.get("/api/destinations", acme).json().path("destinations"))
                    .extracting(d -> d.path("id").asText())
                    .containsExactly(acmeId);
            assertThat(openApi.get("/api/destinations", eu).json().path("destinations"))
                    .extracting(d -> d.path("id").asText())
                    .containsExactly(euId);

            // An event of acme is queued for acme's destination only; acme/eu's sees nothing of it.
            assertThat(openApi.put("/api/resources/orders/o-acme", acme, "{}").status())
                    .isEqualTo(201);
            await().atMost(WAIT).until(() -> acmeReceiver.deliveries().size() == 1);
            assertThat(counters(openApi, eu, euId)).containsEntry("queued", 0L).containsEntry("delivered", 0L);
            assertThat(euReceiver.deliveries()).isEmpty();

            assertThat(openApi.put("/api/resources/orders/o-eu", eu, "{}").status())
                    .isEqualTo(201);
            await().atMost(WAIT).until(() -> euReceiver.deliveries().size() == 1);
            assertThat(acmeReceiver.deliveries()).hasSize(1);
            assertThat(Api.JSON
                            .readTree(euReceiver.deliveries().get(0).body())
                            .path("tenant")
                            .asText())
                    .isEqualTo("acme/eu");
        }
    }

    @Test
    void create_beyondTheTenantsCap_answers409NamingTheSetting() {
        try (WebhookReceiver receiver = WebhookReceiver.answering(204)) {
            String capped = openApi.token("capped-app", TestClients.SECRET);
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Api.Response created = create(openApi, capped, receiver.url("/c" + i));
                assertThat(created.status()).isEqualTo(201);
                ids.add(created.json().path("id").asText());
            }

            Api.Response refused = create(openApi, capped, receiver.url("/c3"));
            assertThat(refused.status()).isEqualTo(409);
            assertThat(refused.header("Content-Type")).startsWith("application/problem+json");
            assertThat(refused.json().path("detail").asText())
                    .contains("already has 3 webhook destinations")
                    .contains("CHORUS_WEBHOOK_MAX_PER_TENANT=3");
            assertThat(refused.json().path("limit").asInt()).isEqualTo(3);
            assertThat(refused.json().path("setting").asText()).isEqualTo("CHORUS_WEBHOOK_MAX_PER_TENANT");
            assertThat(openApi.get("/api/destinations", capped).json().path("destinations"))
                    .hasSize(3);

            assertThat(openApi.delete("/api/destinations/" + ids.get(0), capped).status())
                    .isEqualTo(204);
            assertThat(create(openApi, capped, receiver.url("/c4")).status()).isEqualTo(201);
        }
    }

    @Test
    void webhooks_areSignedWithTheSecretShownOnce_andKeepTheirIdAcrossRetries() throws Exception {
        try (WebhookReceiver receiver = WebhookReceiver.answering(503, 204)) {
            String signed = openApi.token("signed-app", TestClients.SECRET);
            Api.Response created = create(openApi, signed, receiver.url("/signed"));
            assertThat(created.status()).isEqualTo(201);
            String id = created.json().path("id").asText();
            String secret = created.json().path("secret").asText();
            assertThat(secret).startsWith("whsec_");

            for (String path : List.of("/api/destinations", "/api/destinations/" + id)) {
                Api.Response read = openApi.get(path, signed);
                assertThat(read.status()).isEqualTo(200);
                assertThat(read.body()).doesNotContain("secret").doesNotContain("whsec_");
            }

            assertThat(openApi.put("/api/resources/orders/o-signed", signed, "{\"n\":1}")
                            .status())
                    .isEqualTo(201);
            // The first try is answered 503, the retry 204: one message, two signed attempts.
            await().atMost(WAIT).until(() -> receiver.deliveries().size() == 2);
            List<WebhookReceiver.Delivery> attempts = receiver.deliveries();
            for (WebhookReceiver.Delivery attempt : attempts) {
                String timestamp = attempt.header("webhook-timestamp");
                assertThat(Math.abs(Instant.now().getEpochSecond() - Long.parseLong(timestamp)))
                        .isLessThan(60);
                assertThat(WebhookVerifier.verify(
                                secret,
                                attempt.header("webhook-id"),
                                timestamp,
                                attempt.header("webhook-signature"),
                                attempt.body()))
                        .isTrue();
                assertThat(WebhookVerifier.verify(
                                WebhookSignature.newSecret(),
                                attempt.header("webhook-id"),
                                timestamp,
                                attempt.header("webhook-signature"),
                                attempt.body()))
                        .isFalse();
                byte[] tampered = attempt.body().clone();
                tampered[tampered.length - 2] ^= 1;
                assertThat(WebhookVerifier.verify(
                                secret,
                                attempt.header("webhook-id"),
                                timestamp,
                                attempt.header("webhook-signature"),
                                tampered))
                        .isFalse();
            }
            assertThat(attempts.get(0).header("webhook-id"))
                    .startsWith("msg_")
                    .isEqualTo(attempts.get(1).header("webhook-id"));
            assertThat(attempts.get(0).header("Idempotency-Key"))
                    .isEqualTo(attempts.get(1).header("Idempotency-Key"));

            assertThat(openApi.put("/api/resources/orders/o-signed", signed, "{\"n\":2}")
                            .status())
                    .isEqualTo(200);
            await().atMost(WAIT).until(() -> receiver.deliveries().size() == 3);
            WebhookReceiver.Delivery next = receiver.deliveries().get(2);
            assertThat(next.header("webhook-id")).isNotEqualTo(attempts.get(0).header("webhook-id"));
            assertThat(WebhookVerifier.verify(
                            secret,
                            next.header("webhook-id"),
                            next.header("webhook-timestamp"),
                            next.header("webhook-signature"),
                            next.body()))
                    .isTrue();
            await().atMost(WAIT)
                    .untilAsserted(() -> assertThat(counters(openApi, signed, id))
                            .containsEntry("delivered", 2L)
                            .containsEntry("retries", 1L));
        }
    }

    @Test
    void status_tellsTenantsTheClassOfFailureOnly_andOperatorsTheDetail() throws Exception {
        try (ConnectionCounter loopback = new ConnectionCounter();
                WebhookReceiver redirect =
                        WebhookReceiver.redirecting(302, "http://localhost:" + loopback.port() + "/stolen");
                ServerSocket plain = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            // Answers plain HTTP at once, so a TLS client's handshake meets text instead of a ServerHello.
            Thread.ofVirtual().start(() -> {
                while (!plain.isClosed()) {
                    try (Socket s = plain.accept()) {
                        s.getOutputStream()
                                .write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
                                        .getBytes(StandardCharsets.US_ASCII));
                    } catch (IOException closed) {
                        return;
                    }
                }
            });
            int closedPort;
            try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
                closedPort = free.getLocalPort();
            }
            String writer = openApi.token("ops-app", TestClients.SECRET);
            String operator = openApi.token("ops-operator", TestClients.SECRET);
            String redirected = create(openApi, writer, redirect.url("/hook"))
                    .json()
                    .path("id")
                    .asText();
            String refused = create(openApi, writer, "http://127.0.0.1:" + closedPort + "/hook")
                    .json()
                    .path("id")
                    .asText();
            String tls = create(openApi, writer, "https://127.0.0.1:" + plain.getLocalPort() + "/hook")
                    .json()
                    .path("id")
                    .asText();

            assertThat(openApi.put("/api/resources/orders/o-ops", writer, "{}").status())
                    .isEqualTo(201);

            Map<String, String> classes = Map.of(redirected, "redirect", refused, "connection refused", tls, "tls");
            await().atMost(WAIT).untilAsserted(() -> {
                for (Map.Entry<String, String> e : classes.entrySet()) {
                    JsonNode status = openApi.get("/api/destinations/" + e.getKey() + "/$status", writer)
                            .json();
                    assertThat(status.path("lastError").asText()).isEqualTo(e.getValue());
                }
            });
            for (Map.Entry<String, String> e : classes.entrySet()) {
                JsonNode cluster = openApi.get("/api/destinations/" + e.getKey() + "/$status?scope=cluster", writer)
                        .json();
                assertThat(cluster.path("replicas")
                                .get(0)
                                .path("status")
                                .path("lastError")
                                .asText())
                        .isEqualTo(e.getValue());
                String detail = openApi.get("/api/destinations/" + e.getKey() + "/$status", operator)
                        .json()
                        .path("lastError")
                        .asText();
                assertThat(detail).startsWith(e.getValue() + ": ");
            }
            assertThat(openApi.get("/api/destinations/" + redirected + "/$status", operator)
                            .json()
                            .path("lastError")
                            .asText())
                    .contains("HTTP 302 to http://localhost:" + loopback.port() + "/stolen")
                    .contains("not followed");
            assertThat(openApi.get("/api/destinations/" + refused + "/$status", operator)
                            .json()
                            .path("lastError")
                            .asText())
                    .contains("127.0.0.1:" + closedPort);

            // A redirect is a failure of its own, not retried, and its target never sees a connection.
            await().atMost(WAIT)
                    .untilAsserted(() -> assertThat(counters(openApi, writer, redirected))
                            .containsEntry("failed", 1L)
                            .containsEntry("retries", 0L));
            assertThat(redirect.deliveries()).hasSize(1);
            assertThat(loopback.accepted()).isZero();
        }
    }

    private static Api.Response create(Api api, String token, String url) {
        return api.send(api.request("/api/destinations")
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"url\":\"" + url + "\"}")));
    }

    private static Map<String, Long> counters(Api api, String token, String id) {
        JsonNode counters =
                api.get("/api/destinations/" + id + "/$status", token).json().path("counters");
        Map<String, Long> map = new HashMap<>();
        counters.fields().forEachRemaining(e -> map.put(e.getKey(), e.getValue().asLong()));
        return map;
    }
}

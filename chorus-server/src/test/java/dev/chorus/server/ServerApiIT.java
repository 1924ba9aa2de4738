package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One replica in this JVM on its embedded default (in-process backplane, in-memory storage), driven over
 * real HTTP and WebSocket sockets: resources and their preconditions, authentication, authorisation, and
 * every kind of bad input, each answered with the right 4xx and no change.
 */
class ServerApiIT {

    private static ChorusServer server;
    private static Api api;
    private static String writer;
    private static String reader;
    private static String admin;
    private static String otherTenant;
    private static String operator;

    @BeforeAll
    static void start() {
        Map<String, String> env = new HashMap<>(TestClients.env(TestClients.newKeyPem()));
        env.put("PORT", "0");
        env.put("CHORUS_HTTP_HOST", "127.0.0.1");
        server = ChorusServer.start(ServerConfig.from(env));
        api = new Api(URI.create("http://127.0.0.1:" + server.port()));
        writer = api.token(TestClients.WRITER, TestClients.SECRET);
        reader = api.token(TestClients.READER, TestClients.SECRET);
        admin = api.token(TestClients.ADMIN, TestClients.SECRET);
        otherTenant = api.token(TestClients.OTHER_TENANT, TestClients.SECRET);
        operator = api.token(TestClients.OPERATOR, TestClients.SECRET);
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void resourcesAreVersionedAndPreconditionsHold() {
        String path = "/api/resources/orders/o-1";
        Api.Response created = api.put(path, writer, "{\"total\": 10}");
        assertThat(created.status()).isEqualTo(201);
        assertThat(created.header("ETag")).isEqualTo("\"1\"");
        assertThat(created.json().path("version").asLong()).isEqualTo(1);

        Api.Response read = api.get(path, reader);
        assertThat(read.status()).isEqualTo(200);
        assertThat(read.body()).isEqualTo("{\"total\": 10}");
        assertThat(read.header("ETag")).isEqualTo("\"1\"");

        assertThat(api.put(path, writer, "{\"total\": 11}").header("ETag")).isEqualTo("\"2\"");

        Api.Response stale = api.put(path, writer, "{\"total\": 99}", "If-Match", "\"1\"");
        assertThat(stale.status()).isEqualTo(412);
        assertThat(stale.header("Content-Type")).startsWith("application/problem+json");
        assertThat(stale.json().path("currentVersion").asLong()).isEqualTo(2);
        assertThat(api.get(path, reader).body()).isEqualTo("{\"total\": 11}");

        assertThat(api.put(path, writer, "{\"total\": 12}", "If-Match", "\"2\"").status())
                .isEqualTo(200);
        assertThat(api.put(path, writer, "{}", "If-None-Match", "*").status()).isEqualTo(412);
        assertThat(api.put("/api/resources/orders/o-new", writer, "{}", "If-Match", "*")
                        .status())
                .isEqualTo(412);
        assertThat(api.get("/api/resources/orders/o-new", reader).status()).isEqualTo(404);

        Api.Response notModified = api.send(api.request(path)
                .header("Authorization", "Bearer " + reader)
                .header("If-None-Match", "\"3\"")
                .GET());
        assertThat(notModified.status()).isEqualTo(304);

        assertThat(api.delete(path, writer, "If-Match", "\"2\"").status()).isEqualTo(412);
        assertThat(api.delete(path, writer, "If-Match", "\"3\"").status()).isEqualTo(204);
        Api.Response gone = api.get(path, reader);
        assertThat(gone.status()).isEqualTo(404);
        assertThat(gone.json().path("status").asInt()).isEqualTo(404);
        assertThat(api.delete(path, writer).status()).isEqualTo(404);

        // A re-created resource never reuses an old ETag.
        assertThat(api.put(path, writer, "{\"total\": 1}").header("ETag")).isEqualTo("\"4\"");
    }

    @Test
    void aTenantSeesOnlyItsOwnResources() {
        api.put("/api/resources/notes/shared-id", writer, "{\"owner\":\"acme\"}");
        assertThat(api.get("/api/resources/notes/shared-id", otherTenant).status())
                .isEqualTo(404);
        assertThat(api.put("/api/resources/notes/shared-id", otherTenant, "{\"owner\":\"globex\"}")
                        .status())
                .isEqualTo(201);
        assertThat(api.get("/api/resources/notes/shared-id", writer).body()).isEqualTo("{\"owner\":\"acme\"}");
        assertThat(api.get("/api/resources/notes/shared-id", otherTenant).body())
                .isEqualTo("{\"owner\":\"globex\"}");
    }

    @Test
    void requestsWithoutAValidTokenAreRefused() throws Exception {
        Api.Response none = api.get("/api/resources/orders/x");
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.header("WWW-Authenticate")).startsWith("Bearer");

        assertThat(api.get("/api/resources/orders/x", "not-a-token").status()).isEqualTo(401);

        String header = b64("{\"alg\":\"none\",\"typ\":\"JWT\"}");
        String claims = b64("{\"sub\":\"root\",\"tenant\":\"acme\",\"aud\":\"chorus\",\"iss\":\"chorus\","
                + "\"roles\":[\"writer\",\"admin\"],\"exp\":" + (System.currentTimeMillis() / 1000 + 600) + "}");
        Api.Response algNone = api.put("/api/resources/orders/x", header + "." + claims + ".", "{}");
        assertThat(algNone.status()).isEqualTo(401);

        // A token from a replica with another key: valid in form, refused here.
        Map<String, String> env = new HashMap<>(TestClients.env(TestClients.newKeyPem()));
        env.put("PORT", "0");
        env.put("CHORUS_HTTP_HOST", "127.0.0.1");
        try (ChorusServer stranger = ChorusServer.start(ServerConfig.from(env))) {
            String foreign = new Api(URI.create("http://127.0.0.1:" + stranger.port()))
                    .token(TestClients.WRITER, TestClients.SECRET);
            Api.Response wrongKey = api.get("/api/resources/orders/x", foreign);
            assertThat(wrongKey.status()).isEqualTo(401);
            assertThat(wrongKey.header("WWW-Authenticate")).contains("invalid_token");
        }

        Api.Response readerWrites = api.put("/api/resources/orders/x", reader, "{}");
        assertThat(readerWrites.status()).isEqualTo(403);
        assertThat(api.get("/api/resources/orders/x", reader).status()).isEqualTo(404);
    }

    @Test
    void theTokenEndpointSpeaksOAuth() {
        Api.Response wrongSecret = api.tokenResponse(TestClients.WRITER, "wrong");
        assertThat(wrongSecret.status()).isEqualTo(401);
        assertThat(wrongSecret.json().path("error").asText()).isEqualTo("invalid_client");
        Api.Response unknown = api.tokenResponse("nobody", TestClients.SECRET);
        assertThat(unknown.json().path("error_description").asText())
                .isEqualTo(wrongSecret.json().path("error_description").asText());

        Api.Response wrongGrant = api.send(api.request("/oauth/token")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("grant_type=password&client_id=" + TestClients.WRITER)));
        assertThat(wrongGrant.status()).isEqualTo(400);
        assertThat(wrongGrant.json().path("error").asText()).isEqualTo("unsupported_grant_type");

        String basic = Base64.getEncoder()
                .encodeToString((TestClients.WRITER + ":" + TestClients.SECRET).getBytes(StandardCharsets.UTF_8));
        Api.Response viaBasic = api.send(api.request("/oauth/token")
                .header("Authorization", "Basic " + basic)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("grant_type=client_credentials")));
        assertThat(viaBasic.status()).isEqualTo(200);
        assertThat(viaBasic.json().path("token_type").asText()).isEqualTo("Bearer");
        assertThat(viaBasic.header("Cache-Control")).isEqualTo("no-store");

        JsonNode jwks = api.get("/.well-known/jwks.json").json();
        assertThat(jwks.path("keys").get(0).path("kty").asText()).isEqualTo("RSA");
        assertThat(jwks.path("keys").get(0).has("d")).isFalse();
    }

    @Test
    void badInputGetsAProblemNamingTheFieldAndChangesNothing() {
        String path = "/api/resources/items/i-1";
        api.put(path, writer, "{\"v\":1}");

        Api.Response malformed = api.put(path, writer, "{\"v\":");
        assertThat(malformed.status()).isEqualTo(400);
        assertThat(malformed.header("Content-Type")).startsWith("application/problem+json");
        assertThat(malformed.json().path("field").asText()).isEqualTo("body");

        assertThat(api.put(path, writer, "[1,2]").json().path("field").asText()).isEqualTo("body");
        assertThat(api.put(path, writer, "").status()).isEqualTo(400);

        Api.Response wrongType = api.send(api.request(path)
                .header("Authorization", "Bearer " + writer)
                .header("Content-Type", "text/plain")
                .PUT(HttpRequest.BodyPublishers.ofString("{}")));
        assertThat(wrongType.status()).isEqualTo(415);

        String big = "{\"x\":\"" + "a".repeat(ServerConfig.MAX_BODY_BYTES) + "\"}";
        assertThat(api.put(path, writer, big).status()).isEqualTo(413);
        String justFits = "{\"x\":\"" + "a".repeat(ServerConfig.MAX_BODY_BYTES - 10) + "\"}";
        assertThat(api.put("/api/resources/items/big", writer, justFits).status())
                .isEqualTo(201);
        assertThat(api.get("/api/resources/items/big", reader).body()).isEqualTo(justFits);

        Api.Response badType = api.put("/api/resources/Bad%20Type/x", writer, "{}");
        assertThat(badType.status()).isEqualTo(400);
        assertThat(badType.json().path("field").asText()).isEqualTo("type");
        Api.Response badIfMatch = api.put(path, writer, "{}", "If-Match", "3");
        assertThat(badIfMatch.status()).isEqualTo(400);
        assertThat(badIfMatch.json().path("field").asText()).isEqualTo("If-Match");

        Api.Response unknownRoute = api.get("/api/nothing-here", writer);
        assertThat(unknownRoute.status()).isEqualTo(404);
        assertThat(unknownRoute.header("Content-Type")).startsWith("application/problem+json");
        Api.Response wrongMethod = api.send(api.request(path)
                .header("Authorization", "Bearer " + writer)
                .POST(HttpRequest.BodyPublishers.ofString("{}")));
        assertThat(wrongMethod.status()).isEqualTo(405);

        Api.Response badEvent = api.send(api.request("/api/events")
                .header("Authorization", "Bearer " + writer)
                .POST(HttpRequest.BodyPublishers.ofString("{\"type\": 5}")));
        assertThat(badEvent.status()).isEqualTo(400);
        assertThat(badEvent.json().path("field").asText()).isEqualTo("/type");

        Api.Response after = api.get(path, reader);
        assertThat(after.body()).isEqualTo("{\"v\":1}");
        assertThat(after.header("ETag")).isEqualTo("\"1\"");
    }

    @Test
    void theEventSocketDeliversWhatTheClientMaySeeAndRefusesBadFrames() throws Exception {
        assertThatThrownBy(() -> EventsClient.connect(api.base(), "bad-token", null))
                .hasStackTraceContaining("401");

        try (EventsClient alice = EventsClient.connect(api.base(), writer, null);
                EventsClient carol = EventsClient.connect(api.base(), otherTenant, null)) {
            api.put("/api/resources/tickets/t-1", writer, "{\"state\":\"open\"}");
            JsonNode changed = alice.awaitFrame(f -> f.path("event").asText().equals("resource.changed"));
            assertThat(changed.path("data").path("id").asText()).isEqualTo("t-1");
            assertThat(changed.path("data").path("version").asLong()).isEqualTo(1);

            postEvent(operator, "{\"type\":\"notice\",\"to\":\"everyone\",\"data\":{\"n\":1}}");
            postEvent(admin, "{\"type\":\"private\",\"to\":\"user\",\"user\":\"alice\",\"data\":{}}");
            assertThat(postEvent(writer, "{\"type\":\"private\",\"to\":\"user\",\"user\":\"carol\"}"))
                    .isEqualTo(403);
            alice.awaitFrame(f -> f.path("event").asText().equals("private"));
            carol.awaitFrame(f -> f.path("event").asText().equals("notice"));
            assertThat(carol.events()).extracting(f -> f.path("event").asText()).containsExactly("notice");

            alice.sendText("{\"type\":\"ping\"}");
            alice.awaitFrame(f -> f.path("type").asText().equals("pong"));
        }

        try (EventsClient binary = EventsClient.connect(api.base(), writer, null)) {
            binary.sendBinary(new byte[] {1, 2, 3});
            assertThat(binary.awaitClose()).isEqualTo(1003);
            assertThat(binary.closeReason()).contains("binary");
        }
        try (EventsClient garbage = EventsClient.connect(api.base(), writer, null)) {
            garbage.sendText("hello?");
            assertThat(garbage.awaitClose()).isEqualTo(1008);
        }
    }

    @Test
    void healthMetricsAndTheApiDocumentAreServed() {
        JsonNode health = api.operatorGet("/health").json();
        assertThat(health.path("status").asText()).isEqualTo("HEALTHY");
        assertThat(health.path("components").fieldNames())
                .toIterable()
                .containsExactly("backplane", "membership", "storage", "keys", "instances", "cache");
        assertThat(api.get("/health/ready").status()).isEqualTo(200);
        assertThat(api.get("/health/live").status()).isEqualTo(200);
        assertThat(api.get("/health/started").status()).isEqualTo(200);

        api.get("/api/resources/orders/metrics-probe", reader);
        String metrics = api.operatorGet("/metrics").body();
        assertThat(metrics)
                .contains("http_server_requests_seconds_count")
                .contains("route=\"/api/resources/{type}/{id}\"")
                .contains("chorus_backplane_published")
                .contains("chorus_events_published")
                .contains("jvm_memory_used_bytes");

        JsonNode openApi = api.get("/openapi.json").json();
        assertThat(openApi.path("paths").has("/api/resources/{type}/{id}")).isTrue();
    }

    private static int postEvent(String token, String body) {
        return api.send(api.request("/api/events")
                        .header("Authorization", "Bearer " + token)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body)))
                .status();
    }

    private static String b64(String json) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
    }
}

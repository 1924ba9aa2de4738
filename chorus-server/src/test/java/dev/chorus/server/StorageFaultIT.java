package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.TestPostgres;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 19, clean errors under faults: with PostgreSQL unreachable a write answers 503 with Retry-After and
 * says whether it may have happened, never 500; once storage is back every acknowledged write is there.
 * Trailing content after a JSON document is a 400 and stores nothing.
 */
class StorageFaultIT {

    private static FaultProxy proxy;
    private static ChorusServer server;
    private static Api api;
    private static String writer;

    @BeforeAll
    static void start() {
        TestPostgres postgres = TestPostgres.server();
        proxy = FaultProxy.start(postgres.host(), postgres.port());
        Map<String, String> env = new HashMap<>(TestClients.sharedStorage("fault", null));
        env.put(
                "DATABASE_URL",
                "postgres://" + encode(postgres.user()) + ":" + encode(postgres.password()) + "@" + proxy.host() + ":"
                        + proxy.port() + "/" + encode(postgres.database()));
        env.put("PORT", "0");
        env.put("CHORUS_HTTP_HOST", "127.0.0.1");
        server = ChorusServer.start(ServerConfig.from(env));
        api = new Api(URI.create("http://127.0.0.1:" + server.port()));
        writer = api.token(TestClients.WRITER, TestClients.SECRET);
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (proxy != null) {
            proxy.close();
        }
    }

    private static String encode(String value) {
        return URLEncoder.encode(value == null ? "" : value, StandardCharsets.UTF_8);
    }

    @Test
    void writesWhileStorageIsUnreachable_answer503WithRetryAfter_andNothingAcknowledgedIsLost() {
        List<String> acknowledged = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            String path = "/api/resources/notes/before-" + i;
            assertThat(api.put(path, writer, "{\"n\":" + i + "}").status()).isEqualTo(201);
            acknowledged.add(path);
        }

        proxy.refuse(true);
        proxy.cut();
        for (int i = 0; i < 3; i++) {
            Api.Response refused = api.put("/api/resources/notes/during-" + i, writer, "{\"n\":" + i + "}");
            assertThat(refused.status()).as(refused.body()).isEqualTo(503);
            assertThat(refused.header("Retry-After")).isEqualTo("2");
            assertThat(refused.header("Content-Type")).startsWith("application/problem+json");
            assertThat(refused.json().path("outcome").asText()).isIn("not-applied", "unknown");
            Api.Response read = api.get("/api/resources/notes/during-" + i, writer, "Cache-Control", "no-cache");
            assertThat(read.status()).isIn(503, 404);
        }

        proxy.heal();
        await().atMost(Duration.ofSeconds(30))
                .until(() -> api.put("/api/resources/notes/after", writer, "{\"n\":1}")
                                        .status()
                                / 100
                        == 2);
        acknowledged.add("/api/resources/notes/after");
        for (String path : acknowledged) {
            assertThat(api.get(path, writer, "Cache-Control", "no-cache").status())
                    .as(path)
                    .isEqualTo(200);
        }
    }

    @Test
    void trailingContentAfterTheDocument_isRefused_andNothingIsStored() {
        Api.Response refused = api.put("/api/resources/notes/trailing", writer, "{\"a\":1} {\"b\":2}");
        assertThat(refused.status()).isEqualTo(400);
        assertThat(api.get("/api/resources/notes/trailing", writer).status()).isEqualTo(404);

        Api.Response event =
                api.send(java.net.http.HttpRequest.newBuilder(api.base().resolve("/api/events"))
                        .header("Authorization", "Bearer " + writer)
                        .header("Content-Type", "application/json")
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"type\":\"t\"} trailing")));
        assertThat(event.status()).isEqualTo(400);
    }
}

package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 19, abuse limits: repeated failed token requests are slowed down (429 with Retry-After) without
 * touching other clients, and a flood of tokens with an unknown key id is refused cheaply while valid
 * requests go on. The latencies are printed, not asserted: speed is the benchmarks' to measure.
 */
class TokenAbuseIT {

    private static ChorusServer server;
    private static Api api;

    @BeforeAll
    static void start() {
        server = TestClients.startLocal(Map.of());
        api = new Api(URI.create("http://127.0.0.1:" + server.port()));
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void repeatedFailures_areSlowedDown_andOtherClientsAreNot() {
        for (int i = 0; i < 5; i++) {
            assertThat(api.tokenResponse(TestClients.READER, "wrong-secret-" + i)
                            .status())
                    .isEqualTo(401);
        }
        Api.Response slowed = api.tokenResponse(TestClients.READER, "wrong-secret-6");
        assertThat(slowed.status()).isEqualTo(401);
        Api.Response refused = api.tokenResponse(TestClients.READER, TestClients.SECRET);
        assertThat(refused.status()).isEqualTo(429);
        assertThat(refused.header("Retry-After")).isNotNull();
        assertThat(refused.json().path("error").asText()).isEqualTo("slow_down");

        assertThat(api.tokenResponse(TestClients.WRITER, TestClients.SECRET).status())
                .isEqualTo(200);
    }

    @Test
    void aFloodOfTokensWithAnUnknownKeyId_isRefused_whileValidRequestsGoOn() throws Exception {
        String valid = api.token(TestClients.WRITER, TestClients.SECRET);
        api.put("/api/resources/notes/n", valid, "{}");
        List<Long> before = timedReads(valid, 200);

        ExecutorService flood = Executors.newFixedThreadPool(4);
        List<Future<Integer>> refusals = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            String forged = forged(i);
            refusals.add(
                    flood.submit(() -> api.get("/api/resources/notes/n", forged).status()));
        }
        List<Long> during = timedReads(valid, 200);
        for (Future<Integer> refusal : refusals) {
            assertThat(refusal.get()).isEqualTo(401);
        }
        flood.shutdown();

        System.out.printf(
                "Valid reads p50/p99 before the flood: %.2f/%.2f ms; during 2,000 unknown-kid tokens: %.2f/%.2f ms%n",
                percentile(before, 50), percentile(before, 99), percentile(during, 50), percentile(during, 99));
    }

    private static List<Long> timedReads(String token, int count) {
        List<Long> nanos = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long start = System.nanoTime();
            assertThat(api.get("/api/resources/notes/n", token).status()).isEqualTo(200);
            nanos.add(System.nanoTime() - start);
        }
        return nanos;
    }

    private static double percentile(List<Long> nanos, int p) {
        List<Long> sorted = new ArrayList<>(nanos);
        Collections.sort(sorted);
        return sorted.get(Math.min(sorted.size() - 1, sorted.size() * p / 100)) / 1e6;
    }

    /** A well-formed RS256 token naming a key this cluster does not have, a different one each time. */
    private static String forged(int i) {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String header = b64.encodeToString(("{\"alg\":\"RS256\",\"kid\":\"unknown-" + i + "\"}").getBytes());
        String claims = b64.encodeToString(
                ("{\"sub\":\"x\",\"exp\":9999999999,\"iss\":\"chorus\",\"aud\":\"chorus\"}").getBytes());
        return header + "." + claims + "." + b64.encodeToString(new byte[256]);
    }
}

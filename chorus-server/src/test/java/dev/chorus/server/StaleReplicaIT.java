package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.chorus.cache.ReplicatedCache;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 20: a replica started with {@code CHORUS_BACKPLANE=inprocess} beside two replicas on {@code postgres}
 * that share its {@code DATABASE_URL}. It hears none of their invalidations; before the fix it reported
 * DEGRADED but kept serving its cached copy of a value overwritten through another replica, long past the 5 s
 * bound. Now every read through it (and through the others, which cannot hear its writes) is fresh or bypassed,
 * and every replica's backplane health names the replicas it does not hear.
 */
class StaleReplicaIT {

    private static final Logger LOG = LoggerFactory.getLogger(StaleReplicaIT.class);
    private static final Duration BOUND = ReplicatedCache.DEFAULT_STALENESS_BOUND;
    private static final String PATH = "/api/resources/notes/stale-1";

    @Test
    void aReplicaOnTheInProcessBackplaneBesidePostgresReplicas_servesNoReadStalerThanTheBound() throws Exception {
        Map<String, String> env = TestClients.sharedStorage("stale", "postgres");
        env.put("CHORUS_CLUSTER_SECRET", "chorus-test-secret-0123456789");
        env.put("PORT", "0");
        env.put("CHORUS_HTTP_HOST", "127.0.0.1");
        Map<String, String> misconfigured = new HashMap<>(env);
        misconfigured.put("CHORUS_BACKPLANE", "inprocess");
        try (ChorusServer a = ChorusServer.start(ServerConfig.from(env));
                ChorusServer b = ChorusServer.start(ServerConfig.from(env));
                ChorusServer c = ChorusServer.start(ServerConfig.from(misconfigured))) {
            Api writeA = api(a);
            Api readB = api(b);
            Api readC = api(c);
            for (Api replica : List.of(writeA, readB, readC)) {
                await().atMost(Duration.ofSeconds(30)).until(() -> replica.liveMembers() == 3);
            }
            String writer = writeA.token(TestClients.WRITER, TestClients.SECRET);
            String reader = readC.token(TestClients.READER, TestClients.SECRET);

            // Writes through a; reads through c (misconfigured) and b. Twice the bound and more: on the old code,
            // c's first cached value outlived the bound after ~5 s.
            Map<Long, Long> replacedAt = new ConcurrentHashMap<>(); // version n -> when write n+1 began
            List<String> stale = new ArrayList<>();
            long reads = 0;
            long version = 0;
            long end = System.nanoTime() + BOUND.multipliedBy(2).plusSeconds(2).toNanos();
            while (System.nanoTime() - end < 0) {
                version++;
                replacedAt.put(version - 1, System.nanoTime());
                assertThat(writeA.put(PATH, writer, "{\"n\":" + version + "}").status())
                        .isIn(200, 201);
                for (int i = 0; i < 4; i++) {
                    for (Api replica : List.of(readC, readB)) {
                        long began = System.nanoTime();
                        Api.Response read = replica.get(PATH, reader);
                        assertThat(read.status()).isEqualTo(200);
                        long seen = Api.JSON.readTree(read.body()).path("n").asLong();
                        reads++;
                        // The value seen was replaced when write seen+1 began (or later): how long before this read?
                        Long replaced = replacedAt.get(seen);
                        if (replaced != null && began - replaced > BOUND.toNanos()) {
                            stale.add(replica.base() + " served n=" + seen + " at n=" + version + ", replaced "
                                    + Duration.ofNanos(began - replaced).toMillis() + " ms before the read");
                        }
                    }
                }
            }
            LOG.info("{} writes, {} reads, {} staler than {}", version, reads, stale.size(), BOUND);
            assertThat(stale).as("reads staler than the bound").isEmpty();

            // c's cache is bypassed, and each side's backplane health names the replicas it does not hear.
            JsonNode onC = readC.operatorGet("/health").json().path("components");
            assertThat(onC.path("cache").path("status").asText()).isEqualTo("DEGRADED");
            assertThat(onC.path("cache").path("reason").asText()).startsWith("reads bypass the cache");
            assertThat(onC.path("backplane").path("reason").asText()).contains("CHORUS_BACKPLANE=postgres");
            assertThat(names(onC.path("backplane").path("details").path("unheard")))
                    .containsExactlyInAnyOrder(
                            a.replica().toString(), b.replica().toString());
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                JsonNode onA = writeA.operatorGet("/health").json().path("components");
                assertThat(onA.path("backplane").path("status").asText()).isEqualTo("DEGRADED");
                assertThat(onA.path("backplane").path("reason").asText())
                        .contains("the postgres backplane does not hear [" + c.replica() + "]");
                assertThat(names(onA.path("backplane").path("details").path("unheard")))
                        .containsExactly(c.replica().toString());
            });
        }
    }

    private static Api api(ChorusServer server) {
        return new Api(URI.create("http://127.0.0.1:" + server.port()));
    }

    private static List<String> names(JsonNode array) {
        List<String> names = new ArrayList<>();
        array.forEach(n -> names.add(n.asText()));
        return names;
    }
}

package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.chorus.Backoff;
import dev.chorus.server.agents.AgentClient;
import dev.chorus.testkit.LoopbackPorts;
import dev.chorus.testkit.TestPostgres;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local launcher as a newcomer uses it: {@code bin/chorus cluster up} starts three replicas behind
 * HAProxy; a rolling restart ({@code bin/chorus cluster restart}) under steady HTTP load through HAProxy
 * fails no request, and an agent connected through HAProxy reconnects and is reachable again.
 */
@ExtendWith(HeavyAcrossForks.class)
class ClusterLauncherIT {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterLauncherIT.class);

    @TempDir
    Path state;

    @Test
    void aRollingRestartThroughHaproxyFailsNoRequest() throws Exception {
        Assumptions.assumeTrue(
                onPath("haproxy"), "haproxy is not installed (the launcher and .ci/run install it with apt-get)");
        Path root = root();
        String unique = "lch_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        Map<String, String> env = Map.of(
                "CHORUS_CLUSTER_DIR",
                state.toString(),
                "DATABASE_URL",
                TestPostgres.server().jdbcUrl(),
                "CHORUS_CHANNEL",
                unique,
                "CHORUS_STORAGE_SCHEMA",
                unique,
                "CHORUS_DRAIN_DELAY",
                "2s");
        try {
            String up = run(root, env, "bin/chorus", "cluster", "up", "--replicas", "3", "--port", "auto");
            assertThat(up).contains("Chorus cluster up: 3 replicas");
            String secret = Files.readString(state.resolve("demo.secret")).strip();
            Api api = new Api(URI.create("http://127.0.0.1:" + basePort(state)));
            String token = api.token("demo", secret);
            assertThat(api.put("/api/resources/notes/n-1", token, "{\"v\":1}").status())
                    .isEqualTo(201);

            AgentClient agent = new AgentClient(
                            "agent-1",
                            List.of(api.base()),
                            () -> api.token("demo", secret),
                            config -> null,
                            new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1)))
                    .start();
            try (agent) {
                await().atMost(Duration.ofSeconds(20)).until(agent::isConnected);

                AtomicBoolean loading = new AtomicBoolean(true);
                AtomicInteger requests = new AtomicInteger();
                List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
                List<Thread> load = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int worker = t;
                    load.add(Thread.ofVirtual().start(() -> {
                        int n = 0;
                        while (loading.get()) {
                            Api.Response response = worker == 0
                                    ? api.put("/api/resources/notes/n-1", token, "{\"v\":" + (++n) + "}")
                                    : api.get("/api/resources/notes/n-1", token);
                            requests.incrementAndGet();
                            if (response.status() != 200) {
                                failures.add(response.status() + " " + response.body());
                            }
                        }
                    }));
                }
                long started = System.nanoTime();
                run(root, env, "bin/chorus", "cluster", "restart");
                loading.set(false);
                for (Thread thread : load) {
                    thread.join();
                }
                LOG.info(
                        "Rolling restart took {} ms: {} requests through HAProxy, {} failed",
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started),
                        requests.get(),
                        failures.size());
                assertThat(requests.get()).isGreaterThan(100);
                assertThat(failures).isEmpty();

                await().atMost(Duration.ofSeconds(30)).until(() -> agent.connections() >= 2 && agent.isConnected());
                await().atMost(Duration.ofSeconds(30))
                        .until(() -> api.put("/api/agents/agent-1/config?timeout=2s", token, "{\"x\":1}")
                                        .status()
                                == 200);
            }
            assertThat(run(root, env, "bin/chorus", "cluster", "status"))
                    .contains("replica-3")
                    .contains("ready");
        } finally {
            run(root, env, "bin/chorus", "cluster", "down");
        }
    }

    /**
     * Issue 20: {@code --backplane jgroups} gave every replica the same {@code CLUSTER_PORT}, so replicas 2 and 3
     * could not bind and replica 1 sat alone, HEALTHY. Now each has its own port and TCP discovery with the full
     * list: one view of three, verify passes. Then a fourth replica on the same storage whose host list names only
     * itself (a mesh of one): every side's backplane health is DEGRADED naming the replicas it does not hear,
     * until it leaves.
     */
    @Test
    void jgroupsFormsOneViewOfThree_andAReplicaOutsideTheViewIsNamed() throws Exception {
        Assumptions.assumeTrue(
                onPath("haproxy"), "haproxy is not installed (the launcher and .ci/run install it with apt-get)");
        Path root = root();
        String unique = "lcj_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        Map<String, String> env = Map.of(
                "CHORUS_CLUSTER_DIR",
                state.toString(),
                "DATABASE_URL",
                TestPostgres.server().jdbcUrl(),
                "CHORUS_CHANNEL",
                unique,
                "CHORUS_STORAGE_SCHEMA",
                unique,
                "CHORUS_CLUSTER_SECRET",
                "chorus-test-secret-0123456789");
        try {
            String up = run(
                    root,
                    env,
                    "bin/chorus",
                    "cluster",
                    "up",
                    "--replicas",
                    "3",
                    "--port",
                    "auto",
                    "--backplane",
                    "jgroups");
            assertThat(up).contains("Chorus cluster up: 3 replicas on the jgroups backplane");
            String secret = Files.readString(state.resolve("demo.secret")).strip();
            int base = basePort(state);
            List<Api> replicas = new ArrayList<>();
            for (int i = 1; i <= 3; i++) {
                replicas.add(new Api(URI.create("http://127.0.0.1:" + (base + i))).asOperator("demo", secret));
            }
            for (Api replica : replicas) {
                await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
                    JsonNode backplane = backplane(replica);
                    assertThat(backplane.path("status").asText())
                            .as(backplane.toString())
                            .isEqualTo("HEALTHY");
                    assertThat(backplane.path("details").path("members").asInt())
                            .isEqualTo(3);
                });
            }
            Api api = new Api(URI.create("http://127.0.0.1:" + base)).asOperator("demo", secret);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                JsonNode verify = api.operatorGet("/api/cluster/verify").json();
                assertThat(verify.path("passed").asBoolean())
                        .as(verify.toString())
                        .isTrue();
            });

            int port = LoopbackPorts.free(100); // FD_SOCK2 listens on port + 100
            Map<String, String> alone = new HashMap<>(env);
            alone.putAll(Map.of(
                    "PORT", "0",
                    "CHORUS_HTTP_HOST", "127.0.0.1",
                    "CHORUS_BACKPLANE", "jgroups",
                    "CHORUS_CLIENTS_FILE", state.resolve("clients.json").toString(),
                    "CLUSTER_DISCOVERY", "TCP",
                    "CLUSTER_BIND_ADDRESS", "127.0.0.1",
                    "CLUSTER_PORT", Integer.toString(port),
                    "CLUSTER_INITIAL_HOSTS", "127.0.0.1[" + port + "]"));
            if (Files.exists(state.resolve("key.pem"))) {
                alone.put(
                        "CHORUS_JWT_PRIVATE_KEY_FILE", state.resolve("key.pem").toString());
            }
            try (ChorusServer outsider = ChorusServer.start(ServerConfig.from(alone))) {
                Api outside = new Api(URI.create("http://127.0.0.1:" + outsider.port())).asOperator("demo", secret);
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                    JsonNode backplane = backplane(outside);
                    assertThat(backplane.path("status").asText()).isEqualTo("DEGRADED");
                    assertThat(backplane.path("reason").asText()).contains("the jgroups backplane does not hear");
                    assertThat(backplane.path("details").path("unheard").size()).isEqualTo(3);
                });
                for (Api replica : replicas) {
                    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                        JsonNode backplane = backplane(replica);
                        assertThat(backplane.path("status").asText()).isEqualTo("DEGRADED");
                        assertThat(backplane.path("reason").asText())
                                .contains("the jgroups backplane does not hear [" + outsider.replica() + "]");
                    });
                }
            }
            for (Api replica : replicas) {
                await().atMost(Duration.ofSeconds(30))
                        .until(() -> backplane(replica).path("status").asText().equals("HEALTHY"));
            }
        } finally {
            run(root, env, "bin/chorus", "cluster", "down");
        }
    }

    private static JsonNode backplane(Api replica) {
        return replica.operatorGet("/health").json().path("components").path("backplane");
    }

    private static String run(Path root, Map<String, String> env, String... command) throws Exception {
        ProcessBuilder builder =
                new ProcessBuilder(command).directory(root.toFile()).redirectErrorStream(true);
        builder.environment().putAll(env);
        Process process = builder.start();
        byte[] output = process.getInputStream().readAllBytes();
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).isTrue();
        String text = new String(output, StandardCharsets.UTF_8);
        LOG.info("{}:\n{}", String.join(" ", command), text);
        assertThat(process.exitValue()).as(text).isZero();
        return text;
    }

    private static boolean onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    private static Path root() {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.exists(root.resolve("bin/chorus"))) {
            root = root.getParent();
        }
        return root;
    }

    /** The HAProxy port {@code bin/chorus cluster up --port auto} chose, from its state directory. */
    private static int basePort(Path state) throws IOException {
        return Files.readAllLines(state.resolve("cluster.env")).stream()
                .filter(line -> line.startsWith("BASE_PORT="))
                .map(line -> Integer.parseInt(line.substring("BASE_PORT=".length())))
                .findFirst()
                .orElseThrow(() -> new IOException("no BASE_PORT in " + state.resolve("cluster.env")));
    }
}

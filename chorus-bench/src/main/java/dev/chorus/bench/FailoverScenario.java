package dev.chorus.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.Backoff;
import dev.chorus.server.agents.AgentClient;
import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.SigningKey;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Agent failover: replicas A, B and C of the reference server, each its own process on the PostgreSQL
 * backplane; N agents connected to B; B is killed with SIGKILL; how long until each agent is dispatchable
 * again through A (it reconnects to C and claims its session there).
 */
final class FailoverScenario implements Scenario {

    static final String NAME = "failover";

    private static final String SECRET = "bench-client-secret-0123456789abcdef";
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "agents dispatchable again after kill -9 of their replica";
    }

    @Override
    public String legend() {
        return """
                Three replicas of the reference server (`java -cp` the benchmark jar, `dev.chorus.server.Main`, \
                PostgreSQL backplane, leases and storage, one shared signing key), each its own process on \
                loopback. N agents (`AgentClient`, one shared JDK `HttpClient`, reconnect backoff 50 ms → 1 s \
                with full jitter, addresses B then C) connect to B and claim their sessions. B is killed with \
                SIGKILL. From that instant, 32 virtual threads dispatch a config to every agent through A \
                (`PUT /api/agents/{id}/config?timeout=1s`) until it answers 200 DELIVERED; each agent's time \
                is kill → its first delivered dispatch. messages: agents; msgs/s: agents made dispatchable per \
                second of the whole recovery; loss: agents never dispatchable within 60 s. The replicas, the \
                agents and the dispatchers share the machine's cores.
                """;
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        String unavailable = BenchPostgres.unavailableReason();
        int agents = config.pick(1_000, 100);
        if (unavailable != null) {
            return List.of(new ResultRow(
                    NAME,
                    "chorus agents",
                    "kill -9 owner",
                    0,
                    Double.NaN,
                    Double.NaN,
                    Double.NaN,
                    Double.NaN,
                    0,
                    "skipped: " + unavailable));
        }
        try {
            return List.of(measure(agents));
        } catch (Exception e) {
            throw new IllegalStateException("failover scenario failed: " + e, e);
        }
    }

    /** Every replica of the run shares one cluster secret, as a deployment's do. */
    private static Map<String, String> withSecret(Map<String, String> env) {
        Map<String, String> all = new java.util.HashMap<>(env);
        all.put("CHORUS_CLUSTER_SECRET", BenchSecret.VALUE);
        return all;
    }

    private ResultRow measure(int count) throws Exception {
        String unique = "fo_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        Map<String, String> env = withSecret(Map.of(
                "CHORUS_BACKPLANE",
                "postgres",
                "DATABASE_URL",
                BenchPostgres.configuredUrl(),
                "CHORUS_CHANNEL",
                unique,
                "CHORUS_STORAGE_SCHEMA",
                unique,
                "CHORUS_DRAIN_DELAY",
                "0s",
                "CHORUS_JWT_PRIVATE_KEY",
                SigningKey.toPem(generator.generateKeyPair().getPrivate()),
                "CHORUS_CLIENTS",
                "[{\"id\":\"bench\",\"secretHash\":\"" + Clients.hash(SECRET)
                        + "\",\"user\":\"bench\",\"tenant\":\"bench\",\"roles\":[\"reader\",\"writer\",\"agent\"],"
                        + "\"agents\":[\"*\"]}]",
                "CHORUS_HTTP_HOST",
                "127.0.0.1",
                "PORT",
                "0"));
        List<Process> processes = new ArrayList<>();
        HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        ScheduledExecutorService timer = Executors.newScheduledThreadPool(2);
        List<AgentClient> clients = new ArrayList<>();
        try {
            URI a = start("a", env, processes, http);
            URI b = start("b", env, processes, http);
            URI c = start("c", env, processes, http);
            String token = token(http, a);
            for (int i = 0; i < count; i++) {
                AgentClient agent = new AgentClient(
                        "agent-" + i,
                        List.of(b, c),
                        () -> token,
                        config -> null,
                        new Backoff(Duration.ofMillis(50), Duration.ofSeconds(1)),
                        http,
                        timer);
                clients.add(agent.start());
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (clients.stream().anyMatch(agent -> !agent.isConnected())) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("agents did not all connect to B within 120 s");
                }
                TimeUnit.MILLISECONDS.sleep(100);
            }
            long killedAt = System.nanoTime();
            processes.get(1).destroyForcibly();
            LatencyRecorder recovery = new LatencyRecorder();
            AtomicInteger lost = new AtomicInteger();
            ConcurrentLinkedQueue<Integer> pending = new ConcurrentLinkedQueue<>();
            for (int i = 0; i < count; i++) {
                pending.add(i);
            }
            long giveUp = killedAt + TimeUnit.SECONDS.toNanos(60);
            try (ExecutorService dispatchers = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int t = 0; t < 32; t++) {
                    dispatchers.submit(() -> {
                        Integer next;
                        while ((next = pending.poll()) != null) {
                            while (true) {
                                if (dispatch(http, a, token, "agent-" + next)) {
                                    recovery.record(System.nanoTime() - killedAt);
                                    break;
                                }
                                if (System.nanoTime() > giveUp) {
                                    lost.incrementAndGet();
                                    break;
                                }
                            }
                        }
                        return null;
                    });
                }
            }
            double seconds = (System.nanoTime() - killedAt) / 1e9;
            return new ResultRow(
                    NAME,
                    "chorus agents (" + count + ")",
                    "kill -9 owner",
                    count,
                    recovery.count() / seconds,
                    recovery.percentileMicros(50),
                    recovery.percentileMicros(99),
                    recovery.maxMicros(),
                    lost.get(),
                    "every agent dispatchable again " + Math.round(recovery.maxMicros() / 1000) + " ms after the kill");
        } finally {
            clients.forEach(AgentClient::close);
            timer.shutdownNow();
            for (Process process : processes) {
                process.toHandle().destroy();
            }
            for (Process process : processes) {
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            }
        }
    }

    private static boolean dispatch(HttpClient http, URI a, String token, String agent) {
        try {
            HttpResponse<Void> response = http.send(
                    HttpRequest.newBuilder(a.resolve("/api/agents/" + agent + "/config?timeout=1s"))
                            .timeout(Duration.ofSeconds(10))
                            .header("Authorization", "Bearer " + token)
                            .header("Content-Type", "application/json")
                            .PUT(HttpRequest.BodyPublishers.ofString("{\"level\":1}"))
                            .build(),
                    HttpResponse.BodyHandlers.discarding());
            return response.statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static String token(HttpClient http, URI base) throws Exception {
        String form = "grant_type=client_credentials&client_id=bench&client_secret="
                + URLEncoder.encode(SECRET, StandardCharsets.UTF_8);
        HttpResponse<String> response = http.send(
                HttpRequest.newBuilder(base.resolve("/oauth/token"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString(form))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(response.body()).path("access_token").asText();
    }

    /**
     * Starts a replica on a free port and waits for its readiness. The benchmark jar's logging is WARN only,
     * so the port cannot be read from the startup line: it is chosen here.
     */
    private static URI start(String name, Map<String, String> env, List<Process> processes, HttpClient http)
            throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder builder = new ProcessBuilder(
                        java.toString(),
                        "-Xmx384m",
                        "-cp",
                        System.getProperty("java.class.path"),
                        "dev.chorus.server.Main")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        builder.environment().putAll(env);
        builder.environment().put("CHORUS_REPLICA_NAME", name);
        builder.environment().put("PORT", Integer.toString(port));
        Process process = builder.start();
        processes.add(process);
        URI uri = URI.create("http://127.0.0.1:" + port);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline && process.isAlive()) {
            try {
                HttpResponse<Void> ready = http.send(
                        HttpRequest.newBuilder(uri.resolve("/health/ready"))
                                .timeout(Duration.ofSeconds(2))
                                .build(),
                        HttpResponse.BodyHandlers.discarding());
                if (ready.statusCode() == 200) {
                    return uri;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            TimeUnit.MILLISECONDS.sleep(200);
        }
        throw new IllegalStateException("replica " + name + " did not become ready on port " + port);
    }
}

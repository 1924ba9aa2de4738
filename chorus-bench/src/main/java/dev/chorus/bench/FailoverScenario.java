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
import java.nio.file.Files;
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
 * again through A (it reconnects to C and claims its session there). Run twice in one go, on the same code:
 * once with {@code CHORUS_SESSION_LEGACY_FAILOVER=true} (the failover of before issue 20) and once without.
 * A few stranded agents, which know only B, measure the lease-expiry floor: how long until a dispatch to a
 * session whose client never comes back is answered NO_LIVE_SESSION.
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
                PostgreSQL backplane, leases, membership and storage, one shared signing key and cluster \
                secret, default session lease TTL 10 s and membership expiry 10 s), each its own process on \
                loopback. N agents (`AgentClient`, one shared JDK `HttpClient`, reconnect backoff 50 ms → 1 s \
                with full jitter, addresses B then C) connect to B and claim their sessions; M stranded agents \
                know only B. B is killed with SIGKILL. From that instant, 32 virtual threads dispatch a config to \
                every agent through A (`PUT /api/agents/{id}/config?timeout=1s`) until it answers 200 DELIVERED; \
                each agent's time is kill → its first delivered dispatch. 4 more threads dispatch to the stranded \
                agents until A answers 404 NO_LIVE_SESSION: that time is the lease-expiry floor, the bound for a \
                session whose client does not come back. A reconnecting agent's claim takes its session over with \
                a newer token at once (newest claim wins), so it does not wait for that floor. Both modes run in \
                one process on the same code: "before" sets `CHORUS_SESSION_LEGACY_FAILOVER=true` on every \
                replica (dispatches wait out a silent remembered owner, claims go one round trip each), "after" \
                runs the defaults (silent owners checked against the lease store after 250 ms, claims taken \
                over in batches). messages: agents; msgs/s: agents made dispatchable per second of the whole \
                recovery; loss: agents never dispatchable (or, stranded, never NO_LIVE_SESSION) within 60 s. \
                The replicas, the agents and the dispatchers share the machine's cores.
                """;
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        String unavailable = BenchPostgres.unavailableReason();
        int agents = config.pick(1_000, 100);
        int stranded = config.pick(20, 5);
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
            List<ResultRow> rows = new ArrayList<>(measure(agents, stranded, true));
            rows.addAll(measure(agents, stranded, false));
            return rows;
        } catch (Exception e) {
            throw new IllegalStateException("failover scenario failed: " + e, e);
        }
    }

    private List<ResultRow> measure(int count, int strandedCount, boolean legacy) throws Exception {
        String mode = legacy ? "before: legacy failover" : "after: fast failover";
        String unique = "fo_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        Map<String, String> env = new java.util.HashMap<>(Map.of(
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
        env.put("CHORUS_CLUSTER_SECRET", BenchSecret.VALUE);
        env.put("CHORUS_WS_MAX_PER_USER", Integer.toString(count + strandedCount + 100));
        if (legacy) {
            env.put("CHORUS_SESSION_LEGACY_FAILOVER", "true");
        }
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
            List<AgentClient> stranded = new ArrayList<>();
            for (int i = 0; i < strandedCount; i++) {
                AgentClient agent = new AgentClient(
                        "stranded-" + i,
                        List.of(b),
                        () -> token,
                        config -> null,
                        new Backoff(Duration.ofMillis(50), Duration.ofSeconds(1)),
                        http,
                        timer);
                stranded.add(agent.start());
            }
            clients.addAll(stranded);
            long connecting = System.nanoTime();
            long deadline = connecting + TimeUnit.SECONDS.toNanos(120);
            while (clients.stream().anyMatch(agent -> !agent.isConnected())) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("agents did not all connect to B within 120 s");
                }
                TimeUnit.MILLISECONDS.sleep(100);
            }
            long connectMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - connecting);
            List<AgentClient> movers = clients.subList(0, count);
            LatencyRecorder reconnects = new LatencyRecorder();
            long killedAt = System.nanoTime();
            processes.get(1).destroyForcibly();
            long giveUp = killedAt + TimeUnit.SECONDS.toNanos(60);
            LatencyRecorder recovery = new LatencyRecorder();
            LatencyRecorder floor = new LatencyRecorder();
            AtomicInteger lost = new AtomicInteger();
            AtomicInteger neverGone = new AtomicInteger();
            long[] allReconnected = {-1};
            try (ExecutorService dispatchers = Executors.newVirtualThreadPerTaskExecutor()) {
                dispatchers.submit(() -> {
                    // When each moving agent holds a session on C again: the floor of "dispatchable again".
                    boolean[] back = new boolean[movers.size()];
                    int left = movers.size();
                    while (left > 0 && System.nanoTime() < giveUp) {
                        long now = System.nanoTime() - killedAt;
                        for (int i = 0; i < back.length; i++) {
                            if (!back[i] && movers.get(i).connectedTo().equals(c.toString())) {
                                back[i] = true;
                                left--;
                                reconnects.record(now);
                            }
                        }
                        if (left == 0) {
                            allReconnected[0] = now;
                            return null;
                        }
                        TimeUnit.MILLISECONDS.sleep(10);
                    }
                    return null;
                });
                drive(dispatchers, 32, count, "agent-", 200, http, a, token, killedAt, giveUp, recovery, lost);
                drive(
                        dispatchers,
                        4,
                        strandedCount,
                        "stranded-",
                        404,
                        http,
                        a,
                        token,
                        killedAt,
                        giveUp,
                        floor,
                        neverGone);
            }
            double seconds = (System.nanoTime() - killedAt) / 1e9;
            long recoveredMillis = Math.round(recovery.maxMicros() / 1000);
            long floorMillis = Math.round(floor.maxMicros() / 1000);
            return List.of(
                    new ResultRow(
                            NAME,
                            "chorus agents (" + count + ")",
                            mode,
                            count,
                            recovery.count() / seconds,
                            recovery.percentileMicros(50),
                            recovery.percentileMicros(99),
                            recovery.maxMicros(),
                            lost.get(),
                            "every agent dispatchable again " + recoveredMillis
                                    + " ms after the kill; reconnected to C:"
                                    + " p50 " + Math.round(reconnects.percentileMicros(50) / 1000) + " ms, all "
                                    + TimeUnit.NANOSECONDS.toMillis(allReconnected[0]) + " ms; first connect of all"
                                    + " agents to B took " + connectMillis + " ms"),
                    new ResultRow(
                            NAME,
                            "stranded agents (" + strandedCount + ")",
                            mode + ", lease-expiry floor",
                            strandedCount,
                            floor.count() / seconds,
                            floor.percentileMicros(50),
                            floor.percentileMicros(99),
                            floor.maxMicros(),
                            neverGone.get(),
                            "NO_LIVE_SESSION " + floorMillis + " ms after the kill (lease TTL 10 s, membership expiry"
                                    + " 10 s)"));
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

    /**
     * {@code threads} virtual threads dispatch to agents {@code prefix0..count-1} through {@code a} until each
     * answers {@code wanted}, recording kill → that answer; agents still not there at {@code giveUp} count in
     * {@code lost}.
     */
    private static void drive(
            ExecutorService dispatchers,
            int threads,
            int count,
            String prefix,
            int wanted,
            HttpClient http,
            URI a,
            String token,
            long killedAt,
            long giveUp,
            LatencyRecorder recorder,
            AtomicInteger lost) {
        ConcurrentLinkedQueue<Integer> pending = new ConcurrentLinkedQueue<>();
        for (int i = 0; i < count; i++) {
            pending.add(i);
        }
        for (int t = 0; t < threads; t++) {
            dispatchers.submit(() -> {
                Integer next;
                while ((next = pending.poll()) != null) {
                    while (true) {
                        if (dispatch(http, a, token, prefix + next) == wanted) {
                            recorder.record(System.nanoTime() - killedAt);
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

    /** The status of one dispatch through {@code a}, or -1 when it did not get one. */
    private static int dispatch(HttpClient http, URI a, String token, String agent) {
        try {
            HttpResponse<Void> response = http.send(
                    HttpRequest.newBuilder(a.resolve("/api/agents/" + agent + "/config?timeout=1s"))
                            .timeout(Duration.ofSeconds(10))
                            .header("Authorization", "Bearer " + token)
                            .header("Content-Type", "application/json")
                            .PUT(HttpRequest.BodyPublishers.ofString("{\"level\":1}"))
                            .build(),
                    HttpResponse.BodyHandlers.discarding());
            return response.statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
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
        // Kept only to say why a replica did not start; deleted when the JVM exits.
        Path output = Files.createTempFile("chorus-failover-" + name, ".log");
        output.toFile().deleteOnExit();
        ProcessBuilder builder = new ProcessBuilder(
                        java.toString(),
                        "-Xmx384m",
                        "-cp",
                        System.getProperty("java.class.path"),
                        "dev.chorus.server.Main")
                .redirectErrorStream(true)
                .redirectOutput(output.toFile());
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
        List<String> lines = Files.readAllLines(output);
        throw new IllegalStateException("replica " + name + " did not become ready on port " + port + " ("
                + (process.isAlive() ? "still starting" : "exited with " + process.exitValue()) + "); its last lines: "
                + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size())));
    }
}

package dev.chorus.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A rolling restart under load: three replicas of the reference server behind HAProxy ({@code bin/chorus
 * cluster up}), steady authenticated reads and writes through HAProxy, and {@code bin/chorus cluster restart}
 * restarting the replicas one at a time; next to the same load for the same time with no restart.
 */
final class RollingRestartScenario implements Scenario {

    static final String NAME = "rolling-restart";

    private static final int CLIENTS = 8;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "HTTP through HAProxy during a rolling restart vs steady state";
    }

    @Override
    public String legend() {
        return """
                `bin/chorus cluster up --replicas 3` (PostgreSQL backplane and storage, HAProxy in front with a \
                readiness check every 500 ms, drain delay 2 s), run from the repository root. %d virtual threads \
                send requests through HAProxy one after another (one in eight a `PUT` of a resource, the others \
                a `GET` of it), each with a bearer token. **during rolling restart**: while `bin/chorus cluster \
                restart` stops each replica with SIGTERM, waits for it to exit, starts it and waits until it is \
                ready. **steady state**: the same load for the same length of time, no restart. messages: \
                requests; latency: request sent → response read; loss: requests that failed (any status but \
                200 or an exception). Target: 0 failed.
                """.formatted(CLIENTS);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        String unavailable = BenchPostgres.unavailableReason();
        Path root = Path.of("").toAbsolutePath();
        if (unavailable == null && !Files.isExecutable(root.resolve("bin/chorus"))) {
            unavailable = "run from the repository root (bin/bench does)";
        }
        if (unavailable != null) {
            return List.of(new ResultRow(
                    NAME,
                    "chorus",
                    "rolling restart",
                    0,
                    Double.NaN,
                    Double.NaN,
                    Double.NaN,
                    Double.NaN,
                    0,
                    "skipped: " + unavailable));
        }
        Path state = null;
        try {
            state = Files.createTempDirectory("chorus-bench-cluster");
            String unique =
                    "rr_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
            Map<String, String> env = Map.of(
                    "CHORUS_CLUSTER_DIR",
                    state.toString(),
                    "DATABASE_URL",
                    BenchPostgres.configuredUrl(),
                    "CHORUS_CHANNEL",
                    unique,
                    "CHORUS_STORAGE_SCHEMA",
                    unique,
                    "CHORUS_DRAIN_DELAY",
                    "2s");
            run(root, env, "bin/chorus", "cluster", "up", "--replicas", "3", "--port", "auto");
            try {
                URI base = URI.create("http://127.0.0.1:" + LauncherState.basePort(state));
                HttpClient http = HttpClient.newBuilder()
                        .version(HttpClient.Version.HTTP_1_1)
                        .connectTimeout(Duration.ofSeconds(5))
                        .build();
                String token = token(
                        http,
                        base,
                        Files.readString(state.resolve("demo.secret")).strip());
                send(http, base, token, true);
                Load restart = new Load(http, base, token);
                long started = System.nanoTime();
                run(root, env, "bin/chorus", "cluster", "restart");
                restart.stop();
                long took = System.nanoTime() - started;
                Load steady = new Load(http, base, token);
                TimeUnit.NANOSECONDS.sleep(took);
                steady.stop();
                return List.of(restart.row("during rolling restart", took), steady.row("steady state", took));
            } finally {
                run(root, env, "bin/chorus", "cluster", "down");
            }
        } catch (Exception e) {
            throw new IllegalStateException("rolling-restart scenario failed: " + e, e);
        }
    }

    /** Closed-loop load: {@link #CLIENTS} virtual threads until stopped. */
    private static final class Load {
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final List<Thread> threads = new ArrayList<>();
        private final List<LatencyRecorder> recorders = new ArrayList<>();
        private final AtomicLong failed = new AtomicLong();

        Load(HttpClient http, URI base, String token) {
            for (int t = 0; t < CLIENTS; t++) {
                LatencyRecorder recorder = new LatencyRecorder();
                recorders.add(recorder);
                int worker = t;
                threads.add(Thread.ofVirtual().start(() -> {
                    int n = 0;
                    while (running.get()) {
                        long start = System.nanoTime();
                        boolean ok = send(http, base, token, worker == 0 && (n++ % 8 == 0));
                        recorder.record(System.nanoTime() - start);
                        if (!ok) {
                            failed.incrementAndGet();
                        }
                    }
                }));
            }
        }

        void stop() throws InterruptedException {
            running.set(false);
            for (Thread thread : threads) {
                thread.join();
            }
        }

        ResultRow row(String mode, long nanos) {
            LatencyRecorder all = LatencyRecorder.merged(recorders);
            return new ResultRow(
                    NAME,
                    "chorus, 3 replicas + HAProxy",
                    mode,
                    all.count(),
                    all.count() / (nanos / 1e9),
                    all.percentileMicros(50),
                    all.percentileMicros(99),
                    all.maxMicros(),
                    failed.get(),
                    failed.get() == 0 ? "target 0 failed: met" : "target 0 failed: MISSED");
        }
    }

    private static boolean send(HttpClient http, URI base, String token, boolean write) {
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve("/api/resources/bench/r-1"))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + token);
        if (write) {
            request.header("Content-Type", "application/json")
                    .PUT(HttpRequest.BodyPublishers.ofString("{\"n\":" + System.nanoTime() + "}"));
        }
        try {
            return http.send(request.build(), HttpResponse.BodyHandlers.discarding())
                                    .statusCode()
                            / 100
                    == 2;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static String token(HttpClient http, URI base, String secret) throws Exception {
        String form = "grant_type=client_credentials&client_id=demo&client_secret="
                + URLEncoder.encode(secret, StandardCharsets.UTF_8);
        HttpResponse<String> response = http.send(
                HttpRequest.newBuilder(base.resolve("/oauth/token"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString(form))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(response.body()).path("access_token").asText();
    }

    private static void run(Path root, Map<String, String> env, String... command) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(root.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        builder.environment().putAll(env);
        Process process = builder.start();
        if (!process.waitFor(10, TimeUnit.MINUTES) || process.exitValue() != 0) {
            throw new IllegalStateException(
                    String.join(" ", command) + " failed; see the logs in " + env.get("CHORUS_CLUSTER_DIR"));
        }
    }
}

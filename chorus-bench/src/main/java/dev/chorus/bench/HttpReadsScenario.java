package dev.chorus.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.server.ChorusServer;
import dev.chorus.server.ServerConfig;
import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.SigningKey;
import dev.chorus.server.store.PostgresResourceStore;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * HTTP reads of one cached resource through one reference server replica on PostgreSQL, next to the same read
 * with {@code Cache-Control: no-cache} (storage every time) and to {@code /health/live} (no auth, no storage),
 * all driven by the same closed-loop generator ({@link HttpLoad} over {@link RawHttpConnection}) in the same run;
 * {@code wrk} repeats them as a cross-check when it is installed.
 */
final class HttpReadsScenario implements Scenario {

    static final String NAME = "http-reads";

    /** System property: comma-separated connection counts (default {@value #DEFAULT_CONNECTIONS}). */
    static final String CONNECTIONS_PROPERTY = "chorus.bench.http.connections";
    /** System property: {@code false} leaves out the wrk rows even when wrk is installed. */
    static final String WRK_PROPERTY = "chorus.bench.http.wrk";
    /** System property: {@code false} leaves out the baseline rows driven by the JDK {@link HttpClient}. */
    static final String JDK_CLIENT_PROPERTY = "chorus.bench.http.jdkclient";

    static final String DEFAULT_CONNECTIONS = "1,16,64";

    static final String CACHED = "cached";
    static final String BYPASS = "bypass (no-cache)";
    static final String HEALTH = "health baseline";
    static final String HEALTH_JDK = HEALTH + ", JDK HttpClient";
    static final String WRK_SKIPPED = "wrk: skipped";

    private static final String TYPE = "bench";
    private static final String ID = "doc-1";
    private static final String RESOURCE_PATH = "/api/resources/" + TYPE + "/" + ID;
    private static final String HEALTH_PATH = "/health/live";
    private static final int BODY_BYTES = 1024;
    private static final String CLIENT = "bench-app";
    /** wrk's threads: one per core of the machine the numbers in the docs come from; more only add switching. */
    private static final int WRK_THREADS = 2;

    /** Connections of the unrecorded warmup that runs every kind of request once before the first row. */
    private static final int WARMUP_CONNECTIONS = 16;

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(30);

    private final List<Integer> connectionCounts;
    private final boolean wrk;
    private final boolean jdkClient;

    /** Connection counts and extras from the system properties. */
    HttpReadsScenario() {
        this(
                parseCounts(System.getProperty(CONNECTIONS_PROPERTY, DEFAULT_CONNECTIONS)),
                !"false".equalsIgnoreCase(System.getProperty(WRK_PROPERTY, "true")),
                !"false".equalsIgnoreCase(System.getProperty(JDK_CLIENT_PROPERTY, "true")));
    }

    /** Only these connection counts, with or without the wrk and JDK client rows; for tests. */
    HttpReadsScenario(List<Integer> connectionCounts, boolean wrk, boolean jdkClient) {
        if (connectionCounts.isEmpty() || connectionCounts.stream().anyMatch(c -> c < 1)) {
            throw new IllegalArgumentException("connection counts must be positive: " + connectionCounts);
        }
        this.connectionCounts = List.copyOf(connectionCounts);
        this.wrk = wrk;
        this.jdkClient = jdkClient;
    }

    private static List<Integer> parseCounts(String text) {
        return Arrays.stream(text.split(","))
                .map(String::strip)
                .filter(s -> !s.isEmpty())
                .map(Integer::valueOf)
                .toList();
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "GET of a cached resource through one server replica vs the same GET bypassing the cache";
    }

    @Override
    public String legend() {
        return """
                One `ChorusServer` replica in this JVM on loopback (`CHORUS_BACKPLANE=postgres`, storage in \
                PostgreSQL, a fresh storage schema and channel per run), one resource of %,d bytes of JSON PUT \
                before timing. The generator is closed-loop: *N connections* are N virtual threads, each with its \
                own keep-alive HTTP/1.1 socket (a minimal client: one write, then status line, headers and body \
                read), sending the next request as soon as the response is read. Latency: request written → \
                response body read; messages: responses completed in the measured period; msgs/s: those per \
                second; loss: errors — non-200 responses, bodies of another length, exceptions — in warmup and \
                measured period (must be 0). Each row: a warmup, then the measured period (full run 5 s + 15 s, \
                `--quick` 1 s + 3 s), after every kind of request ran unrecorded at %d connections once the server \
                was up (full 5 s each, quick 0.5 s), so the first rows do not meet a cold JIT.

                **cached**: `GET %s` with a bearer token: RS256 token check, then `ReplicatedCache.get`, which \
                hits after the first read. **bypass**: the same with `Cache-Control: no-cache`: token check, then \
                a `SELECT` on the server's pool of %d PostgreSQL connections every time (the cache is not \
                consulted). **health baseline**: `GET %s` — no token, no storage, a small JSON body: what the \
                generator, Jetty and Javalin cost alone. **…, JDK HttpClient**: the same baseline with \
                `java.net.http.HttpClient` (HTTP/1.1, one client per generator thread, so one pooled keep-alive \
                connection each) in place of the minimal client: what a general-purpose client adds; the gap is \
                why the other rows use the minimal one. **wrk**: the same requests from `wrk` (C, event loops, \
                %d threads) when installed, as a cross-check of the Java generator. Notes, over the measured \
                period: the cache's reads (`chorus_cache_reads_total` from `/metrics`), the server's mean time per \
                GET answered 200 (`http_server_requests_seconds`, before-handler to after-handler, so without \
                Jetty's parsing and writing; it labels every request `route="*"`, so the one `/metrics` scrape that \
                opens the period counts too), and for cached the ratios to bypass at the same connection count.

                Expectation (the issue sets no target): cached reads have more throughput and lower latency than \
                bypass. Caveat: generator and server share this machine's cores and this JVM (and its GC), so \
                every request the generator makes costs the server CPU: rows compare with each other, not with a \
                server on its own machine. At one connection latency is the cost of one request; with more \
                connections than cores requests/s is the saturated throughput and latency is mostly queueing \
                (about connections ÷ requests/s).
                """.formatted(
                        BODY_BYTES,
                        WARMUP_CONNECTIONS,
                        RESOURCE_PATH,
                        PostgresResourceStore.DEFAULT_POOL_SIZE,
                        HEALTH_PATH,
                        WRK_THREADS);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        long serverWarmup = TimeUnit.MILLISECONDS.toNanos(config.pick(5_000, 500));
        long warmup = TimeUnit.MILLISECONDS.toNanos(config.pick(5_000, 1_000));
        long measured = TimeUnit.MILLISECONDS.toNanos(config.pick(15_000, 3_000));
        List<ResultRow> rows = new ArrayList<>();
        try (BenchPostgres postgres = BenchPostgres.open()) {
            String secret = randomSecret();
            Map<String, String> env = new HashMap<>();
            env.put("DATABASE_URL", BenchPostgres.configuredUrl());
            env.put("CHORUS_BACKPLANE", "postgres");
            env.put("CHORUS_CLUSTER_SECRET", BenchSecret.VALUE);
            env.put("CHORUS_CHANNEL", postgres.uniqueChannel("http"));
            env.put(ServerConfig.STORAGE_SCHEMA, postgres.schema());
            env.put(ServerConfig.HTTP_HOST, "127.0.0.1");
            env.put(ServerConfig.HTTP_PORT, "0");
            env.put(Clients.CLIENTS, clientsJson(secret));
            env.put(SigningKey.PRIVATE_KEY, newKeyPem());
            // Outlives the longest full run, so no token expires while it is measured.
            env.put("CHORUS_TOKEN_TTL", "1h");
            try (ChorusServer server = ChorusServer.start(ServerConfig.from(env));
                    Setup setup = new Setup(new InetSocketAddress("127.0.0.1", server.port()))) {
                rows.addAll(measure(setup, secret, serverWarmup, warmup, measured));
            }
        } catch (BenchPostgres.Unavailable e) {
            rows.add(e.row(NAME));
        }
        return rows;
    }

    private List<ResultRow> measure(Setup setup, String secret, long serverWarmup, long warmup, long measured) {
        String token = setup.token(secret);
        setup.put(token, document());
        setup.awaitServing(token);
        Map<String, String> auth = Map.of("Authorization", "Bearer " + token);
        Map<String, String> bypass = new LinkedHashMap<>(auth);
        bypass.put("Cache-Control", "no-cache");
        long healthBytes = setup.probe(HEALTH_PATH, Map.of());
        List<Target> targets = List.of(
                new Target(HEALTH, HEALTH_PATH, Map.of(), healthBytes, false),
                new Target(CACHED, RESOURCE_PATH, auth, BODY_BYTES, true),
                new Target(BYPASS, RESOURCE_PATH, bypass, BODY_BYTES, true));
        // The server's JIT would otherwise still be compiling during the first rows, which come at 1 connection.
        for (Target target : targets) {
            HttpLoad.Result result = HttpLoad.run(
                    connector(setup, target),
                    WARMUP_CONNECTIONS,
                    target.bodyBytes(),
                    serverWarmup,
                    0,
                    () -> {},
                    () -> {});
            if (result.errors() > 0) {
                throw new IllegalStateException(
                        "server warmup of " + target.variant() + " failed: " + result.firstError());
            }
        }

        List<ResultRow> rows = new ArrayList<>();
        for (int connections : connectionCounts) {
            String mode = connections + (connections == 1 ? " connection" : " connections");
            Map<String, Measured> byVariant = new LinkedHashMap<>();
            for (Target target : targets) {
                byVariant.put(
                        target.variant(),
                        setup.measure(target, connector(setup, target), connections, warmup, measured));
            }
            Measured cached = byVariant.get(CACHED);
            Measured bypassed = byVariant.get(BYPASS);
            for (Target target : targets) {
                Measured m = byVariant.get(target.variant());
                String notes = m.notes(connections);
                if (target.variant().equals(CACHED)) {
                    notes = ratios(cached.result(), bypassed.result()) + "; " + notes;
                }
                rows.add(m.row(target.variant(), mode, notes));
            }
            if (jdkClient) {
                Target health = targets.get(0);
                URI uri = URI.create("http://127.0.0.1:" + setup.address().getPort() + HEALTH_PATH);
                Measured m = setup.measure(
                        health, () -> JdkHttpConnection.open(uri, Map.of()), connections, warmup, measured);
                HttpLoad.Result minimal = byVariant.get(HEALTH).result();
                String versus = String.format(
                        Locale.ROOT,
                        "%.2f× the minimal client's req/s, p50 %+.0f µs",
                        m.result().perSecond() / minimal.perSecond(),
                        m.result().latency().percentileMicros(50)
                                - minimal.latency().percentileMicros(50));
                rows.add(m.row(HEALTH_JDK, mode, versus + "; " + m.notes(connections)));
            }
        }
        if (wrk) {
            rows.addAll(wrkRows(setup, targets, warmup, measured));
        }
        return rows;
    }

    /** The wrk rows at the largest connection count up to 16, or one row saying why there are none. */
    private List<ResultRow> wrkRows(Setup setup, List<Target> targets, long warmup, long measured) {
        if (!WrkRun.available()) {
            return List.of(new ResultRow(
                    NAME,
                    WRK_SKIPPED,
                    "–",
                    0,
                    0,
                    Double.NaN,
                    Double.NaN,
                    Double.NaN,
                    0,
                    "wrk is not on the PATH; the rows above stand on their own"));
        }
        int connections = connectionCounts.stream()
                .filter(c -> c <= 16)
                .max(Integer::compare)
                .orElse(connectionCounts.get(0));
        int warmupSeconds = (int) Math.max(1, TimeUnit.NANOSECONDS.toSeconds(warmup));
        int measuredSeconds = (int) Math.max(1, TimeUnit.NANOSECONDS.toSeconds(measured));
        String mode = connections + (connections == 1 ? " connection" : " connections");
        List<ResultRow> rows = new ArrayList<>();
        for (Target target : targets) {
            String url = "http://127.0.0.1:" + setup.address().getPort() + target.path();
            PrometheusText before;
            WrkRun run;
            PrometheusText after;
            try {
                WrkRun.run(url, target.headers(), WRK_THREADS, connections, warmupSeconds);
                before = setup.metrics();
                run = WrkRun.run(url, target.headers(), WRK_THREADS, connections, measuredSeconds);
                after = setup.metrics();
            } catch (IllegalStateException e) {
                // The Java rows of a long run are kept; the failed cross-check is reported as one error.
                rows.add(new ResultRow(
                        NAME,
                        "wrk " + target.variant(),
                        mode,
                        0,
                        0,
                        Double.NaN,
                        Double.NaN,
                        Double.NaN,
                        1,
                        "FAILED: " + e.getMessage()));
                continue;
            }
            rows.add(new ResultRow(
                    NAME,
                    "wrk " + target.variant(),
                    mode,
                    run.requests(),
                    run.perSecond(),
                    run.p50Micros(),
                    run.p99Micros(),
                    run.maxMicros(),
                    run.errors(),
                    "wrk -t" + Math.min(WRK_THREADS, connections) + "; " + serverNotes(target, before, after)));
        }
        return rows;
    }

    private static HttpLoad.Connector connector(Setup setup, Target target) {
        byte[] request = RawHttpConnection.get(setup.address(), target.path(), target.headers());
        return () -> RawHttpConnection.open(setup.address(), request);
    }

    private static String ratios(HttpLoad.Result cached, HttpLoad.Result bypass) {
        return String.format(
                Locale.ROOT,
                "%.2f× bypass req/s, p99 %.2f× bypass",
                cached.perSecond() / bypass.perSecond(),
                cached.latency().percentileMicros(99) / bypass.latency().percentileMicros(99));
    }

    /** What the server's metrics say about a row: its cache reads and its mean handling time. */
    static String serverNotes(Target target, PrometheusText before, PrometheusText after) {
        double count = delta(before, after, "http_server_requests_seconds_count");
        double sum = delta(before, after, "http_server_requests_seconds_sum");
        String handling = count == 0
                ? "no handling time recorded"
                : String.format(Locale.ROOT, "server mean %.1f µs", sum / count * 1e6);
        if (!target.resource()) {
            return handling;
        }
        double hits = cacheReads(before, after, "hit");
        double misses = cacheReads(before, after, "miss");
        double bypassed = cacheReads(before, after, "bypassed");
        double reads = hits + misses + bypassed;
        String cache = reads == 0
                ? "cache not read"
                : String.format(
                        Locale.ROOT,
                        "cache hits %.2f %% (%,.0f hits, %,.0f misses, %,.0f bypassed)",
                        100 * hits / reads,
                        hits,
                        misses,
                        bypassed);
        return cache + "; " + handling;
    }

    /** The change of a GET-200 timer sample; every route counts, as the server labels them all {@code *}. */
    private static double delta(PrometheusText before, PrometheusText after, String name) {
        String[] labels = {"status=\"200\"", "method=\"GET\""};
        return after.sum(name, labels) - before.sum(name, labels);
    }

    private static double cacheReads(PrometheusText before, PrometheusText after, String result) {
        String[] labels = {"result=\"" + result + "\""};
        return after.sum("chorus_cache_reads_total", labels) - before.sum("chorus_cache_reads_total", labels);
    }

    /** One kind of request: its path and headers, the body length every response must have, whether it is the resource. */
    record Target(String variant, String path, Map<String, String> headers, long bodyBytes, boolean resource) {}

    /** A generator result with the server's metrics around it. */
    private record Measured(Target target, HttpLoad.Result result, PrometheusText before, PrometheusText after) {

        String notes(int connections) {
            String notes = serverNotes(target, before, after);
            long reopened = result.opened() - connections;
            if (reopened != 0) {
                notes += "; " + reopened + " connections reopened";
            }
            if (result.firstError() != null) {
                notes += "; FAILED: " + result.firstError();
            }
            return notes;
        }

        ResultRow row(String variant, String mode, String notes) {
            LatencyRecorder latency = result.latency();
            return new ResultRow(
                    NAME,
                    variant,
                    mode,
                    result.requests(),
                    result.perSecond(),
                    latency.percentileMicros(50),
                    latency.percentileMicros(99),
                    latency.maxMicros(),
                    result.errors(),
                    notes);
        }
    }

    /** The one-off requests around the measurements, over the JDK client: token, PUT, metrics, probes. */
    private static final class Setup implements AutoCloseable {
        private final InetSocketAddress address;
        private final HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        private final ObjectMapper json = new ObjectMapper();

        Setup(InetSocketAddress address) {
            this.address = address;
        }

        InetSocketAddress address() {
            return address;
        }

        Measured measure(Target target, HttpLoad.Connector connector, int connections, long warmup, long measured) {
            PrometheusText[] scrapes = new PrometheusText[2];
            HttpLoad.Result result = HttpLoad.run(
                    connector,
                    connections,
                    target.bodyBytes(),
                    warmup,
                    measured,
                    () -> scrapes[0] = metrics(),
                    () -> scrapes[1] = metrics());
            return new Measured(target, result, scrapes[0], scrapes[1]);
        }

        private volatile @Nullable String operatorToken;

        String token(String secret) {
            String form = "grant_type=client_credentials&client_id=" + CLIENT + "&client_secret=" + secret;
            HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/oauth/token"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString(form)));
            try {
                JsonNode body = json.readTree(response.body());
                operatorToken = body.get("access_token").asText(); // the metrics are an operator's to read
                return operatorToken;
            } catch (IOException | RuntimeException e) {
                throw new IllegalStateException("no token in " + response.body(), e);
            }
        }

        void put(String token, byte[] document) {
            send(HttpRequest.newBuilder(uri(RESOURCE_PATH))
                    .header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json")
                    .PUT(HttpRequest.BodyPublishers.ofByteArray(document)));
        }

        /** Waits until the replica is ready and its cache serves, so the first measured reads can hit. */
        void awaitServing(String token) {
            long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
            while (true) {
                HttpResponse<String> ready = sendAny(HttpRequest.newBuilder(uri("/health/ready")));
                if (ready.statusCode() == 200 && metrics().sum("chorus_cache_serving") >= 1) {
                    // One read loads the resource into the cache; the first row then starts on a hit.
                    send(HttpRequest.newBuilder(uri(RESOURCE_PATH)).header("Authorization", "Bearer " + token));
                    return;
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("the server was not ready with a serving cache within "
                            + READY_TIMEOUT + ": " + ready.body());
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
            }
        }

        /** The body length of {@code GET path}, which must answer 200. */
        long probe(String path, Map<String, String> headers) {
            HttpRequest.Builder request = HttpRequest.newBuilder(uri(path));
            headers.forEach(request::header);
            return send(request).body().getBytes(StandardCharsets.UTF_8).length;
        }

        PrometheusText metrics() {
            HttpRequest.Builder request = HttpRequest.newBuilder(uri("/metrics"));
            if (operatorToken != null) {
                request.header("Authorization", "Bearer " + operatorToken);
            }
            return PrometheusText.parse(send(request).body());
        }

        private URI uri(String path) {
            return URI.create("http://127.0.0.1:" + address.getPort() + path);
        }

        private HttpResponse<String> send(HttpRequest.Builder request) {
            HttpResponse<String> response = sendAny(request);
            if (response.statusCode() / 100 != 2) {
                throw new IllegalStateException(response.request().method() + " "
                        + response.request().uri().getPath() + " answered " + response.statusCode() + ": "
                        + response.body());
            }
            return response;
        }

        private HttpResponse<String> sendAny(HttpRequest.Builder request) {
            try {
                return client.send(
                        request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                throw new IllegalStateException("setup request failed: " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }

        @Override
        public void close() {
            client.close();
        }
    }

    /** A JSON object of exactly {@value #BODY_BYTES} bytes: a few fields and a padding string. */
    static byte[] document() {
        String head = "{\"title\":\"benchmark document\",\"owner\":\"bench\",\"tags\":[\"http\",\"reads\",\"cache\"],"
                + "\"revision\":1,\"text\":\"";
        String tail = "\"}";
        String text = "x".repeat(BODY_BYTES - head.length() - tail.length());
        byte[] bytes = (head + text + tail).getBytes(StandardCharsets.UTF_8);
        if (bytes.length != BODY_BYTES) {
            throw new IllegalStateException("document is " + bytes.length + " bytes");
        }
        return bytes;
    }

    private static String clientsJson(String secret) {
        return "[{\"id\":\"" + CLIENT + "\",\"secretHash\":\"" + Clients.hash(secret)
                + "\",\"user\":\"bench\",\"tenant\":\"bench\",\"roles\":[\"reader\",\"writer\",\"operator\"]}]";
    }

    private static String randomSecret() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    private static String newKeyPem() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(SigningKey.MIN_BITS);
            return SigningKey.toPem(generator.generateKeyPair().getPrivate());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

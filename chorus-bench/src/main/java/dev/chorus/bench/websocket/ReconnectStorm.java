package dev.chorus.bench.websocket;

import dev.chorus.bench.LauncherState;
import dev.chorus.bench.ResultRow;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The reconnect storm: two replicas behind HAProxy from the local launcher ({@code bin/chorus cluster up
 * --replicas 2}, PostgreSQL backplane), N event sockets straight to replica A, {@code kill -9} of A, and
 * every client reconnecting through HAProxy with its last event id after a random delay of up to the
 * jitter its hello advertised; then the survivor's sockets must all close when the clients do.
 */
final class ReconnectStorm {

    /** The reconnect jitter when a hello advertises none: uniform over 0–2,000 ms. */
    static final int DEFAULT_JITTER_MILLIS = 2_000;
    /** How long clients may take to be back after the kill before they count as left without a connection. */
    static final Duration WINDOW = Duration.ofSeconds(60);

    private static final Duration OPEN_TIMEOUT = Duration.ofMinutes(2);
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration SETTLE = Duration.ofSeconds(1);
    /** The survivor's broadcast rate while clients are away. */
    static final int EVENTS_PER_SECOND = 10;
    /** Events every client receives before the kill, so it resumes from an event id. */
    static final int EVENTS_BEFORE_KILL = 5;

    private static final Duration POST_TIMEOUT = Duration.ofSeconds(10);

    private ReconnectStorm() {}

    /** Runs the storm from the repository root {@code root} with {@code clients} sockets; returns its row. */
    static ResultRow run(String scenario, Path root, int clients) throws IOException {
        Path state = Files.createTempDirectory("chorus-bench-ws-storm");
        String unique = "ws_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        Map<String, String> env = new HashMap<>(Map.of(
                "CHORUS_CLUSTER_DIR",
                state.toString(),
                "CHORUS_CHANNEL",
                unique,
                "CHORUS_STORAGE_SCHEMA",
                unique,
                "CHORUS_JAVA_OPTS",
                String.join(" ", MeasuredServer.JVM_OPTIONS),
                WebSocketScaleScenario.MAX_PER_USER,
                WebSocketScaleScenario.NO_SOCKET_CAP));
        String postgres = System.getProperty("chorus.bench.postgres");
        if (postgres != null && !postgres.isBlank()) {
            env.put("DATABASE_URL", postgres);
        }
        launcher(root, env, Duration.ofMinutes(10), "bin/chorus", "cluster", "up", "--replicas", "2", "--port", "auto");
        try {
            return measure(scenario, state, clients);
        } finally {
            launcher(root, env, Duration.ofMinutes(2), "bin/chorus", "cluster", "down");
        }
    }

    private static ResultRow measure(String scenario, Path state, int clients) throws IOException {
        int base = LauncherState.basePort(state);
        ChorusHttp a = new ChorusHttp(base + 1);
        long pidA =
                Long.parseLong(Files.readString(state.resolve("replica-1.pid")).strip());
        String secret = Files.readString(state.resolve("demo.secret")).strip();
        String token = new ChorusHttp(base + 2).token("demo", secret);
        // Authorized: the replica shows /metrics to an operator only; the launcher's demo client is one.
        ChorusHttp b = new ChorusHttp(base + 2).authorized(token);
        String gauge = Gauges.socketGauge(b);
        ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor();
        try (FleetProcess fleet = FleetProcess.start("127.0.3.", 5_000)) {
            fleet.call("target 127.0.0.1 " + (base + 1) + " /ws/events");
            fleet.call("token " + token);
            Map<String, String> opened = fleet.call("open " + clients + " " + OPEN_TIMEOUT.toMillis(), OPEN_TIMEOUT);
            int ready = Integer.parseInt(opened.get("ready"));
            if (ready < clients) {
                throw new IllegalStateException(
                        "only " + ready + " of " + clients + " sockets opened on replica A: " + opened.get("error"));
            }
            // A few events first, so clients resume from an event id rather than the id of their hello.
            for (int i = 0; i < EVENTS_BEFORE_KILL; i++) {
                int status = a.post(token, ChorusHttp.TENANT, SocketFleet.epochMicros(), POST_TIMEOUT)
                        .join();
                if (status != 202) {
                    throw new IllegalStateException("POST /api/events to replica A answered " + status);
                }
            }
            fleet.call("drain " + (long) EVENTS_BEFORE_KILL * clients + " 2000 10000", Duration.ofSeconds(10));
            Map<String, String> armed =
                    fleet.call("arm 127.0.0.1 " + base + " " + DEFAULT_JITTER_MILLIS + " " + WINDOW.toMillis());
            long killedAt = SocketFleet.epochMicros();
            ProcessHandle.of(pidA).ifPresent(ProcessHandle::destroyForcibly);
            // Events keep coming through the survivor while clients are away: resuming has something to replay.
            // To the clients' tenant, which their own writer role allows, rather than to everyone.
            ticker.scheduleAtFixedRate(
                    () -> b.post(token, ChorusHttp.TENANT, SocketFleet.epochMicros(), POST_TIMEOUT),
                    0,
                    TimeUnit.SECONDS.toMillis(1) / EVENTS_PER_SECOND,
                    TimeUnit.MILLISECONDS);
            Map<String, String> storm = fleet.call(
                    "storm " + killedAt + " " + WINDOW.toMillis() + " " + SETTLE.toMillis(), WINDOW.plus(SETTLE));
            ticker.shutdownNow();
            double during = b.gauge(gauge).orElse(Double.NaN);
            fleet.call("close " + CLOSE_TIMEOUT.toMillis(), CLOSE_TIMEOUT);
            double left = Gauges.awaitZero(b, gauge, Duration.ofSeconds(30));
            long established = Tcp.established(base + 2, ProcessHandle.current().pid());
            return row(scenario, clients, armed, storm, gauge, during, left, established);
        } finally {
            ticker.shutdownNow();
        }
    }

    private static ResultRow row(
            String scenario,
            int clients,
            Map<String, String> armed,
            Map<String, String> storm,
            String gauge,
            double during,
            double left,
            long established) {
        long back = Long.parseLong(storm.get("back"));
        long unconnected = Long.parseLong(storm.get("unconnected")) + Long.parseLong(storm.get("notDropped"));
        double max = Long.parseLong(storm.get("max"));
        long leaked = Double.isNaN(left) ? 0 : Math.round(left);
        boolean advertised = Long.parseLong(armed.get("advertisedJitter")) > 0;
        String notes = String.format(
                Locale.ROOT,
                "%,d resumed, %,d told to reload, %,d without a connection after %d s, %s reconnect attempts;"
                        + " jitter %s; survivor held %,.0f, after the clients closed %,.0f (%s) and %d established"
                        + " TCP on its port; target 0 leaked: %s",
                Long.parseLong(storm.get("resumed")),
                Long.parseLong(storm.get("reloaded")),
                unconnected,
                WINDOW.toSeconds(),
                storm.get("attempts"),
                advertised
                        ? "from the hello's reconnectJitterMs"
                        : "0–" + DEFAULT_JITTER_MILLIS + " ms (no reconnectJitterMs in the hello)",
                during,
                left,
                gauge,
                established,
                Double.isNaN(left)
                        ? "not checked (gauge unreadable)"
                        : leaked == 0 && established == 0 ? "met" : "MISSED");
        if (Long.parseLong(storm.get("attempts")) > clients) {
            notes += "; first failed attempt: " + storm.get("error").replace('_', ' ');
        }
        return new ResultRow(
                scenario,
                "chorus-server, 2 replicas + HAProxy",
                String.format(Locale.ROOT, "kill -9 of the replica holding %,d sockets", clients),
                clients,
                max > 0 ? back / (max / 1e6) : Double.NaN,
                micros(storm.get("p50")),
                micros(storm.get("p99")),
                max < 0 ? Double.NaN : max,
                unconnected + leaked + established,
                notes);
    }

    private static void launcher(Path root, Map<String, String> env, Duration timeout, String... command)
            throws IOException {
        Path log = Path.of(env.get("CHORUS_CLUSTER_DIR")).resolve("launcher.log");
        ProcessBuilder builder = new ProcessBuilder(List.of(command))
                .directory(root.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().putAll(env);
        Process process = builder.start();
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new IOException(String.join(" ", command) + " took over " + timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new IOException("interrupted during " + String.join(" ", command), e);
        }
        if (process.exitValue() != 0) {
            List<String> lines = Files.readAllLines(log);
            throw new IOException(String.join(" ", command) + " exited with " + process.exitValue() + " ("
                    + String.join(" / ", lines.subList(Math.max(0, lines.size() - 3), lines.size()))
                    + "); see " + log);
        }
    }

    private static double micros(String value) {
        long micros = Long.parseLong(value);
        return micros < 0 ? Double.NaN : micros;
    }
}

package dev.chorus.bench.websocket;

import dev.chorus.bench.BenchConfig;
import dev.chorus.bench.ResultRow;
import dev.chorus.bench.Scenario;
import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.Roles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** Idle WebSockets per replica (heap and RSS per socket), broadcast fan-out latency, and a reconnect storm. */
public final class WebSocketScaleScenario implements Scenario {

    /** The scenario's name on the command line. */
    public static final String NAME = "websocket-scale";

    static final String CHORUS = "chorus-server";
    static final String RAW = "raw Jetty 12 (no Chorus)";

    /** Target: heap per idle socket, least squares over the sizes. */
    static final double TARGET_HEAP_KIB = 16;
    /** Jetty's published figure for one idle WebSocket, printed next to the measured RSS slope. */
    static final double JETTY_PUBLISHED_KIB = 14;

    private static final String CLIENT_ID = "bench";
    private static final String SECRET = "bench-websocket-secret-0123456789abcdef";
    /** At most this many sockets per client source address, far below the ~28k ephemeral ports of one. */
    private static final int PER_SOURCE = 5_000;

    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(120);
    /** The server's per-user socket cap; every socket here is one user's, so the cap is lifted. */
    static final String MAX_PER_USER = "CHORUS_WS_MAX_PER_USER";

    static final String NO_SOCKET_CAP = "1000000";

    /**
     * What to run.
     *
     * @param sizes idle socket counts, ascending
     * @param rates broadcast rates in events/s, run at the largest size reached and at {@code fanOutSize}
     * @param fanOutSize the second fan-out size (2,000), skipped when it is the largest reached
     * @param fanOutLength how long each broadcast rate runs
     * @param stormClients sockets of the reconnect storm, 0 to leave it out
     */
    record Settings(List<Integer> sizes, List<Integer> rates, int fanOutSize, Duration fanOutLength, int stormClients) {

        static Settings of(BenchConfig config) {
            return config.quick()
                    ? new Settings(List.of(500, 2_000), List.of(10, 100), 2_000, Duration.ofSeconds(3), 500)
                    : new Settings(
                            List.of(2_000, 5_000, 10_000, 18_000),
                            List.of(10, 100),
                            2_000,
                            Duration.ofSeconds(10),
                            2_000);
        }
    }

    private final @Nullable Settings fixed;

    /** The sizes and rates of {@code --quick} or of a full run. */
    public WebSocketScaleScenario() {
        this(null);
    }

    WebSocketScaleScenario(@Nullable Settings fixed) {
        this.fixed = fixed;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "idle WebSockets per replica (heap, RSS per socket), broadcast fan-out, reconnect storm";
    }

    @Override
    public String legend() {
        return String.format(
                Locale.ROOT,
                """
                Every server is its own process started from the benchmark jar with `%s` (in-process backplane \
                for chorus-server, client `bench` with every role, per-user socket cap lifted); the clients are another process (`FleetMain`, \
                `%s`): one selector thread of raw NIO WebSockets (RFC 6455 handshake, masked frames, server PINGs \
                answered with PONGs, at most %d handshakes in flight), bound to source addresses 127.0.x.2, \
                127.0.x.3, … with at most %,d sockets each, connecting to `/ws/events?access_token=…` on \
                127.0.0.1. A socket counts once its `hello` frame arrived. The only traffic on an idle socket is \
                keepalive: the client pings a socket the server has been silent on for %,d s (Jetty closes a \
                WebSocket idle for 30 s), so a server that pings its own sockets sooner keeps them alive itself; \
                the notes count both kinds of ping. \
                **idle, N sockets**: N sockets open and idle; heap is what `jcmd GC.heap_info` reports in use \
                right after `jcmd GC.run` (a full GC), RSS is `VmRSS` of `/proc/<pid>/status`, both of the \
                SERVER process; KiB/socket is the difference from the 0-socket baseline (taken after %d sockets \
                were opened and closed) divided by N. messages: sockets holding a hello; msgs/s: sockets opened \
                per second while growing to N; loss: sockets asked for but not open at the measurement. \
                **slope**: least squares of heap and RSS over the sizes. Targets: heap ≤ %.0f KiB per idle \
                socket; RSS per socket is printed next to Jetty's published ~%.0f KiB per idle WebSocket. \
                **raw Jetty 12**: core Jetty (`WebSocketUpgradeHandler`, no servlet, no session, no auth) that \
                sends one hello of the same size and holds the socket: the row chorus-server is compared with. \
                **broadcast R/s to N sockets**: `POST /api/events` `{"type":"bench.tick","to":"everyone",\
                "data":{"t":<epoch µs>}}` R times a second; latency per (socket, event) is arrival on the \
                client's one thread minus `t` (so it includes the POST, the server's fan-out and the client \
                reading up to N frames before that one); messages: accepted events (202) × sockets; msgs/s: \
                frames received per second; loss: frames not received within 30 s of the last POST's answer \
                (or after 3 s without any). A POST unanswered within 60 s is counted apart: the event may still \
                have gone out. CPU cores: CPU time of the server and of the client process over the run. \
                Target: p99 < 100 ms at 10 events/s to the largest size. \
                **kill -9**: `bin/chorus cluster up --replicas 2` (HAProxy, PostgreSQL backplane, `%s`); the \
                clients connect straight to replica A, receive %d events (to their tenant), A gets SIGKILL; each client \
                reconnects through HAProxy with `lastEventId` of its last frame after a random delay up to the \
                hello's `reconnectJitterMs` (0–%,d ms when absent), retrying failures with jittered backoff, \
                while the survivor sends their tenant %d events/s. Latency: kill → the client's new hello, or its \
                reload frame when it was told to reload; loss: clients without a connection %d s after the \
                kill plus sockets the survivor still holds after every client closed (its `%s` gauge in \
                `/metrics`, read with an operator token, or \
                `%s` when it has none, and established TCP connections on its port). Target: 0 leaked.
                """,
                String.join(" ", MeasuredServer.JVM_OPTIONS),
                String.join(" ", FleetProcess.JVM_OPTIONS),
                SocketFleet.MAX_IN_FLIGHT,
                PER_SOURCE,
                SocketFleet.DEFAULT_KEEPALIVE_MILLIS / 1000,
                IdleRamp.WARMUP_SOCKETS,
                TARGET_HEAP_KIB,
                JETTY_PUBLISHED_KIB,
                String.join(" ", MeasuredServer.JVM_OPTIONS),
                ReconnectStorm.EVENTS_BEFORE_KILL,
                ReconnectStorm.DEFAULT_JITTER_MILLIS,
                ReconnectStorm.EVENTS_PER_SECOND,
                ReconnectStorm.WINDOW.toSeconds(),
                Gauges.CONNECTIONS,
                Gauges.SINKS);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        Settings settings = fixed != null ? fixed : Settings.of(config);
        Path logs;
        try {
            logs = Files.createTempDirectory("chorus-bench-ws");
        } catch (IOException e) {
            throw new IllegalStateException("no temporary directory for the server logs: " + e, e);
        }
        List<ResultRow> rows = new ArrayList<>();
        IdleRamp.Result raw = null;
        try {
            raw = raw(settings, logs, rows);
        } catch (IOException | RuntimeException e) {
            rows.add(failed(RAW, "idle ramp", e, logs));
        }
        try {
            chorus(settings, logs, rows, raw);
        } catch (IOException | RuntimeException e) {
            rows.add(failed(CHORUS, "idle ramp and broadcast", e, logs));
        }
        if (settings.stormClients() > 0) {
            rows.add(storm(settings.stormClients()));
        }
        return rows;
    }

    private static IdleRamp.Result raw(Settings settings, Path logs, List<ResultRow> rows) throws IOException {
        try (MeasuredServer server = MeasuredServer.rawJetty("raw-jetty", logs);
                FleetProcess fleet = FleetProcess.start("127.0.1.", PER_SOURCE)) {
            fleet.call("target 127.0.0.1 " + server.port() + " /ws/events");
            fleet.call("token none");
            IdleRamp.Result result = IdleRamp.run(NAME, RAW, server, fleet, settings.sizes(), null);
            rows.addAll(result.rows());
            rows.add(slopeRow(RAW, result, null));
            fleet.call("close " + CLOSE_TIMEOUT.toMillis(), CLOSE_TIMEOUT);
            return result;
        }
    }

    private static void chorus(Settings settings, Path logs, List<ResultRow> rows, IdleRamp.@Nullable Result raw)
            throws IOException {
        Map<String, String> env = Map.of(
                "CHORUS_CLIENTS",
                "[{\"id\":\"" + CLIENT_ID + "\",\"secretHash\":\"" + Clients.hash(SECRET)
                        + "\",\"user\":\"bench\",\"tenant\":\"bench\",\"roles\":[\"" + Roles.READER + "\",\""
                        + Roles.WRITER + "\",\"" + Roles.ADMIN + "\",\"" + Roles.OPERATOR + "\"]}]",
                MAX_PER_USER,
                NO_SOCKET_CAP,
                "CHORUS_REPLICA_NAME",
                "ws-scale",
                "CHORUS_DRAIN_DELAY",
                "0s");
        try (MeasuredServer server = MeasuredServer.chorus("chorus-server", env, logs);
                FleetProcess fleet = FleetProcess.start("127.0.2.", PER_SOURCE)) {
            ChorusHttp anonymous = new ChorusHttp(server.port());
            String token = anonymous.token(CLIENT_ID, SECRET);
            ChorusHttp http = anonymous.authorized(token);
            fleet.call("target 127.0.0.1 " + server.port() + " /ws/events");
            fleet.call("token " + token);
            IdleRamp.Result result = IdleRamp.run(NAME, CHORUS, server, fleet, settings.sizes(), http);
            rows.addAll(result.rows());
            rows.add(slopeRow(CHORUS, result, raw));
            int largest = Integer.parseInt(fleet.call("stats").get("ready"));
            broadcasts(settings, http, server.pid(), fleet, rows, true);
            int small = Math.min(settings.fanOutSize(), largest);
            if (small < largest) {
                // Fresh sockets: the sockets of the run before may still have a backlog on the server.
                fleet.call("close " + CLOSE_TIMEOUT.toMillis(), CLOSE_TIMEOUT);
                Gauges.awaitZero(http, Duration.ofSeconds(60));
                fleet.call("token " + http.token(CLIENT_ID, SECRET));
                fleet.call("open " + small + " " + CLOSE_TIMEOUT.toMillis(), CLOSE_TIMEOUT);
                broadcasts(settings, http, server.pid(), fleet, rows, false);
            }
            fleet.call("close " + CLOSE_TIMEOUT.toMillis(), CLOSE_TIMEOUT);
        }
    }

    private static void broadcasts(
            Settings settings,
            ChorusHttp http,
            long serverPid,
            FleetProcess fleet,
            List<ResultRow> rows,
            boolean largest)
            throws IOException {
        String token = http.token(CLIENT_ID, SECRET);
        for (int rate : settings.rates()) {
            rows.add(BroadcastRun.run(
                    NAME, CHORUS, http, serverPid, token, fleet, rate, settings.fanOutLength(), largest && rate == 10));
        }
    }

    private static ResultRow storm(int clients) {
        Path root = Path.of("").toAbsolutePath();
        String mode = String.format(Locale.ROOT, "kill -9 of the replica holding %,d sockets", clients);
        if (!Files.isExecutable(root.resolve("bin/chorus"))) {
            return note(
                    CHORUS + ", 2 replicas + HAProxy", mode, "skipped: run from the repository root (bin/bench does)");
        }
        try {
            return ReconnectStorm.run(NAME, root, clients);
        } catch (IOException | RuntimeException e) {
            return failed(CHORUS + ", 2 replicas + HAProxy", mode, e, null);
        }
    }

    private static ResultRow slopeRow(String variant, IdleRamp.Result result, IdleRamp.@Nullable Result raw) {
        double heap = result.heapSlopeKiB();
        double rss = result.rssSlopeKiB();
        StringBuilder notes = new StringBuilder(String.format(
                Locale.ROOT,
                "heap %.2f KiB/socket, RSS %.2f KiB/socket (Jetty publishes ~%.0f KiB per idle WebSocket)",
                heap,
                rss,
                JETTY_PUBLISHED_KIB));
        if (variant.equals(CHORUS)) {
            notes.append(String.format(
                    Locale.ROOT,
                    "; target heap ≤ %.0f KiB/socket: %s",
                    TARGET_HEAP_KIB,
                    heap <= TARGET_HEAP_KIB ? "met" : "MISSED"));
            if (raw != null && raw.heapSlopeKiB() > 0) {
                notes.append(String.format(
                        Locale.ROOT,
                        "; %.1f× raw Jetty's heap, %.1f× its RSS",
                        heap / raw.heapSlopeKiB(),
                        rss / raw.rssSlopeKiB()));
            }
        }
        int points = result.points().size() - 1;
        return new ResultRow(
                NAME,
                variant,
                String.format(Locale.ROOT, "slope over %d size%s", points, points == 1 ? "" : "s"),
                result.reached(),
                Double.NaN,
                Double.NaN,
                Double.NaN,
                Double.NaN,
                0,
                notes.toString());
    }

    private static ResultRow failed(String variant, String mode, Exception e, @Nullable Path logs) {
        return new ResultRow(
                NAME,
                variant,
                mode,
                0,
                Double.NaN,
                Double.NaN,
                Double.NaN,
                Double.NaN,
                1,
                "FAILED: " + e.getMessage() + (logs == null ? "" : " (server logs in " + logs + ")"));
    }

    private static ResultRow note(String variant, String mode, String notes) {
        return new ResultRow(NAME, variant, mode, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0, notes);
    }
}

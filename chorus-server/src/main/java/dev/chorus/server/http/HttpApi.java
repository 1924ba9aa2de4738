package dev.chorus.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.events.EventHub;
import dev.chorus.health.Health;
import dev.chorus.membership.Membership;
import dev.chorus.server.ChorusServer;
import dev.chorus.server.ResourceService;
import dev.chorus.server.ServerConfig;
import dev.chorus.server.ServerHealth;
import dev.chorus.server.ServerMetrics;
import dev.chorus.server.agents.AgentSessions;
import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.Principal;
import dev.chorus.server.auth.Roles;
import dev.chorus.server.auth.SigningKey;
import dev.chorus.server.auth.Tokens;
import dev.chorus.server.destinations.Destinations;
import dev.chorus.server.store.PreconditionFailedException;
import dev.chorus.server.store.Resource;
import dev.chorus.server.store.StorageUnavailableException;
import dev.chorus.sessions.Sessions;
import dev.chorus.verify.ClusterVerifier;
import io.javalin.Javalin;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.json.JavalinJackson;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's HTTP surface: the Javalin listener and its connectors, the management port, health, metrics and
 * the OpenAPI document, and the mapping of every error to a problem; the API's routes are classes of their own
 * ({@link ResourceRoutes}, {@link EventRoutes}, {@link TokenRoutes}, {@link AgentRoutes}, {@link ClusterRoutes},
 * {@link DestinationRoutes}) registered here. Every client error is a 4xx {@code application/problem+json} that
 * names what was wrong; a rejected request changes nothing.
 */
public final class HttpApi {

    /** The response header that carries cluster warnings (too many replicas). */
    public static final String WARNING_HEADER = "Chorus-Warning";
    /** Role needed to create, replace and delete resources. */
    public static final String WRITER = Roles.WRITER;
    /** Role needed to send events to another user of one's tenant. */
    public static final String ADMIN = Roles.ADMIN;
    /**
     * Event type prefixes of the events the server sends itself ({@code resource.changed}, …): a client
     * cannot send one, so a client that receives one knows the server sent it.
     */
    public static final List<String> RESERVED_EVENT_PREFIXES = List.of("resource.", "chorus.");

    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);
    private static final String STARTED_AT = "chorus.startedAt";
    private static final Pattern MANAGEMENT_PATHS = Pattern.compile("/health(/[a-z]+)?|/metrics");
    /** The largest text message a client may send on a socket: pings, acks and nacks are far smaller. */
    private static final long MAX_SOCKET_MESSAGE_BYTES = 64 * 1024;
    // Connections the kernel holds for the listener before it accepts them. The JDK default is 50: when a
    // replica dies and a thousand agents reconnect to the next one at once, the kernel dropped the SYNs past it
    // and the clients retried after 1, 3 and 7 s (issue 20's failover benchmark: all reconnected after 7.8 s).
    // The kernel caps it at net.core.somaxconn.
    static final int ACCEPT_QUEUE = 4096;

    private final ServerConfig config;
    private final ReplicaId replica;
    private final ObjectMapper json;
    private final ServerHealth health;
    private final ServerMetrics metrics;
    private final Bearer bearer;
    private final BodyLimit bodies;
    private final byte[] openApi;
    private final SocketOptions socketOptions;
    private final @Nullable ManagementPort management;
    /** The management port actually bound (it may be 0 in the settings), once started. */
    private final java.util.concurrent.atomic.AtomicInteger managementPort =
            new java.util.concurrent.atomic.AtomicInteger(-1);

    private final SocketWatch watch;
    private final EventSocket events;
    private final AgentSocket agentSockets;
    private final ResourceRoutes resourceRoutes;
    private final EventRoutes eventRoutes;
    private final TokenRoutes tokenRoutes;
    private final AgentRoutes agentRoutes;
    private final ClusterRoutes clusterRoutes;
    private final DestinationRoutes destinationRoutes;

    /** The multi-replica parts the cluster routes use. */
    public record Cluster(
            AgentSessions agents,
            Sessions sessions,
            ClusterCalls calls,
            ClusterVerifier verifier,
            Membership membership,
            Backplane backplane,
            Destinations destinations) {}

    public HttpApi(
            ServerConfig config,
            ReplicaId replica,
            ObjectMapper json,
            ResourceService resources,
            EventHub hub,
            ServerHealth health,
            ServerMetrics metrics,
            SigningKey key,
            Clients clients,
            Tokens tokens,
            Cluster cluster) {
        this.config = config;
        this.replica = replica;
        this.json = json;
        this.health = health;
        this.metrics = metrics;
        this.bearer = new Bearer(tokens);
        this.bodies = new BodyLimit(config.maxBodyBytes());
        this.openApi = resource("/dev/chorus/server/openapi.json");
        this.socketOptions = SocketOptions.from(config);
        this.management = ManagementPort.from(config);
        this.watch = new SocketWatch(socketOptions);
        this.events = new EventSocket(hub, bearer, json, replica, watch, socketOptions);
        this.agentSockets = new AgentSocket(cluster.agents(), bearer, clients, watch, socketOptions);
        metrics.sockets("events", events::size);
        metrics.sockets("agents", agentSockets::size);
        metrics.agents(cluster.agents()::localCount);
        this.resourceRoutes = new ResourceRoutes(bearer, json, resources, bodies);
        this.eventRoutes = new EventRoutes(bearer, json, hub, events, bodies);
        this.tokenRoutes = new TokenRoutes(key, clients, tokens);
        this.agentRoutes = new AgentRoutes(bearer, json, cluster.agents(), agentSockets);
        this.clusterRoutes = new ClusterRoutes(
                bearer,
                cluster.sessions(),
                cluster.calls(),
                cluster.verifier(),
                cluster.membership(),
                cluster.backplane());
        this.destinationRoutes = new DestinationRoutes(bearer, json, cluster.destinations());
    }

    /** The management port bound, or -1 without one. */
    public int managementPort() {
        return managementPort.get();
    }

    /** Starts the HTTP listener; stopping it stops the sockets' watch too. */
    public Javalin start() {
        Javalin http;
        try {
            http = Javalin.create(this::configure).start(config.host(), config.port());
        } catch (RuntimeException e) {
            watch.close();
            throw e;
        }
        if (management != null) {
            // Added to the running server: Javalin creates its own connector only when there is none.
            org.eclipse.jetty.server.Server jetty = http.jettyServer().server();
            ServerConnector connector = new ServerConnector(jetty, new HttpConnectionFactory());
            connector.setHost(management.host());
            connector.setPort(management.port());
            jetty.addConnector(connector);
            try {
                connector.start();
            } catch (Exception e) {
                http.stop();
                throw new ChorusException(
                        "Could not listen on the management port " + management.host() + ":" + management.port() + " ("
                                + ManagementPort.PORT + "): " + e.getMessage() + "; choose a free port",
                        e);
            }
            managementPort.set(connector.getLocalPort());
            LOG.info(
                    "Management port: /health and /metrics without a token on {}:{} (and to operator tokens on the"
                            + " main port)",
                    management.host(),
                    managementPort.get());
        }
        LOG.info(
                "WebSockets: pinged after {} ms of silence, dropped {} ms after an unanswered ping (a dead peer is"
                        + " found within {} ms), closed within {} ms of their token's expiry, at most {} per user,"
                        + " permessage-deflate {}, reconnect jitter {} ms, browser origins: {}",
                socketOptions.pingInterval().toMillis(),
                socketOptions.pongTimeout().toMillis(),
                socketOptions.deadPeerBound().toMillis(),
                socketOptions.watchTick().toMillis(),
                socketOptions.maxPerUser(),
                socketOptions.compression() ? "on" : "off",
                socketOptions.reconnectJitter().toMillis(),
                socketOptions.allowedOrigins().isEmpty() ? "this server's own" : socketOptions.allowedOrigins());
        if (socketOptions.allowedOrigins().contains("*")) {
            LOG.warn(
                    "{}=* lets pages of any site open sockets with a token they hold; list the origins"
                            + " of your front ends instead",
                    SocketOptions.ALLOWED_ORIGINS);
        }
        return http;
    }

    private void configure(JavalinConfig cfg) {
        cfg.startup.showJavalinBanner = false;
        cfg.startup.showOldJavalinVersionWarning = false;
        cfg.concurrency.useVirtualThreads = true;
        cfg.http.maxRequestSize = config.maxBodyBytes();
        cfg.http.prefer405over404 = true;
        cfg.jsonMapper(new JavalinJackson(json, true));
        cfg.jetty.modifyServer(server -> server.setStopTimeout(ChorusServer.HTTP_STOP_TIMEOUT.toMillis()));
        // Javalin's own connector has the JDK's accept queue; this one replaces it (Javalin adds its own only
        // when none is configured).
        cfg.jetty.addConnector((server, httpConfig) -> {
            ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(httpConfig));
            connector.setHost(config.host());
            connector.setPort(config.port());
            connector.setAcceptQueueSize(ACCEPT_QUEUE);
            return connector;
        });
        cfg.events.serverStopped(watch::close);
        // The socket routes are Jetty endpoints of our own (pongs, one release however a socket ends); Javalin
        // still routes the upgrade and runs the before-upgrade checks, which answer 401 as problem+json.
        cfg.jetty.modifyWebSocketServletFactory(factory -> {
            factory.setIdleTimeout(socketOptions.jettyIdleTimeout());
            factory.setMaxTextMessageSize(MAX_SOCKET_MESSAGE_BYTES);
            eventRoutes.mapSocket(factory);
            agentRoutes.mapSocket(factory);
        });

        cfg.routes.before(ctx -> {
            if (onManagementPort(ctx) && !MANAGEMENT_PATHS.matcher(ctx.path()).matches()) {
                throw Problem.of(404, "Not found", "the management port serves only /health, /health/* and /metrics");
            }
            ctx.attribute(STARTED_AT, System.nanoTime());
            String warning = health.instances().warning();
            if (warning != null) {
                ctx.header(WARNING_HEADER, warning);
            }
        });
        cfg.routes.after(this::recordRequest);

        cfg.routes.get("/health", ctx -> {
            requireManagement(ctx, "the detailed health");
            healthAll(ctx);
        });
        cfg.routes.get("/health/live", ctx -> ctx.json(Map.of("status", "UP", "replica", replica.toString())));
        cfg.routes.get("/health/ready", this::ready);
        cfg.routes.get("/health/started", this::started);
        cfg.routes.get("/metrics", ctx -> {
            requireManagement(ctx, "the metrics");
            ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape());
        });
        cfg.routes.get(
                "/openapi.json", ctx -> ctx.contentType("application/json").result(openApi));

        tokenRoutes.register(cfg.routes);
        resourceRoutes.register(cfg.routes);
        eventRoutes.register(cfg.routes);
        agentRoutes.register(cfg.routes);
        clusterRoutes.register(cfg.routes);
        destinationRoutes.register(cfg.routes);

        cfg.routes.exception(Problem.class, (e, ctx) -> writeProblem(ctx, e));
        cfg.routes.exception(PreconditionFailedException.class, (e, ctx) -> {
            Resource current = e.current();
            Problem problem = Problem.of(412, "Precondition failed", e.getMessage());
            if (current != null) {
                problem.with("currentVersion", current.version());
                ctx.header("ETag", current.etag());
            }
            writeProblem(ctx, problem);
        });
        cfg.routes.exception(HttpResponseException.class, (e, ctx) -> writeProblem(ctx, fromJavalin(e)));
        cfg.routes.exception(Exception.class, (e, ctx) -> {
            StorageUnavailableException storage = causeOf(e, StorageUnavailableException.class);
            if (storage != null) {
                LOG.warn("{} {}: {}", ctx.method(), ctx.path(), storage.getMessage());
                writeProblem(ctx, unavailable(ctx, storage));
                return;
            }
            LOG.error("{} {} failed", ctx.method(), ctx.path(), e);
            writeProblem(
                    ctx,
                    Problem.of(
                            500,
                            "Internal error",
                            "the server failed to handle this request;" + " the error is logged on replica "
                                    + replica));
        });
        cfg.routes.error(404, ctx -> {
            if (!isProblem(ctx)) {
                writeProblem(
                        ctx,
                        Problem.of(
                                404,
                                "Not found",
                                "no route " + ctx.method() + " " + ctx.path() + "; see /openapi.json for the API"));
            }
        });
        cfg.routes.error(405, ctx -> {
            if (!isProblem(ctx)) {
                writeProblem(
                        ctx,
                        Problem.of(
                                405,
                                "Method not allowed",
                                ctx.method() + " is not allowed on " + ctx.path() + "; see /openapi.json for the API"));
            }
        });
        cfg.routes.error(413, ctx -> {
            if (!isProblem(ctx)) {
                writeProblem(ctx, bodies.tooLarge(-1));
            }
        });
    }

    /*
     * The detailed health and the metrics name hosts, users, schemas, replica ids and key fingerprints: an
     * operator's, not a tenant's. On the main port they need an operator token; on the management port
     * (CHORUS_MANAGEMENT_PORT, bound where the operator chooses, for scrapers and dashboards) they need none,
     * and that port serves nothing else. The probes (/health/live, /ready, /started) stay public and minimal.
     */
    private void requireManagement(Context ctx, String what) {
        if (onManagementPort(ctx)) {
            return;
        }
        Principal principal = bearer.require(ctx, null);
        if (!principal.roles().contains(Roles.OPERATOR)) {
            throw Problem.of(
                    403,
                    "Forbidden",
                    what + " need the role '" + Roles.OPERATOR + "', or the management port (" + ManagementPort.PORT
                            + ")");
        }
    }

    private boolean onManagementPort(Context ctx) {
        return management != null && ctx.req().getLocalPort() == managementPort.get();
    }

    /** A storage outage: 503 the client retries, saying whether a write may have happened. */
    private static Problem unavailable(Context ctx, StorageUnavailableException e) {
        boolean write = !ctx.method().name().equals("GET");
        String outcome = !write
                ? "nothing was read"
                : e.outcomeUnknown()
                        ? "the write may or may not have been made (the link broke during its commit): read the"
                                + " resource, or retry with If-Match on the version you last saw"
                        : "nothing was written";
        return Problem.of(503, "Storage unavailable", "storage is unavailable for now; " + outcome + "; retry")
                .with("outcome", !write ? "not-applied" : e.outcomeUnknown() ? "unknown" : "not-applied")
                .header("Retry-After", "2");
    }

    private static <T extends Throwable> @Nullable T causeOf(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }

    private static boolean isProblem(Context ctx) {
        String type = ctx.res().getContentType();
        return type != null && type.startsWith(Problem.CONTENT_TYPE);
    }

    /**
     * Closes every event socket, and every agent socket still claiming its session, with {@code code} and
     * {@code reason}; claimed agents are closed by their sessions.
     */
    public void closeSockets(int code, String reason) {
        events.closeAll(code, reason);
        agentSockets.closeUnclaimed(code, reason);
    }

    // ---- health ----

    private void healthAll(Context ctx) {
        Map<String, Health> components = health.components();
        Health.Status status = Health.worst(components.values());
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", status.name());
        body.put("replica", replica.toString());
        body.put("ready", health.readiness().ready());
        Map<String, Object> parts = new LinkedHashMap<>();
        components.forEach((name, h) -> parts.put(name, describe(h)));
        body.put("components", parts);
        ctx.status(status == Health.Status.DOWN ? 503 : 200).json(body);
    }

    private static Map<String, Object> describe(Health health) {
        Map<String, Object> part = new LinkedHashMap<>();
        part.put("status", health.status().name());
        if (!health.reason().isEmpty()) {
            part.put("reason", health.reason());
        }
        if (!health.details().isEmpty()) {
            part.put("details", health.details());
        }
        return part;
    }

    private void ready(Context ctx) {
        ServerHealth.Readiness readiness = health.readiness();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", readiness.ready() ? "UP" : "DOWN");
        if (!readiness.ready()) {
            body.put("reason", readiness.reason());
        }
        ctx.status(readiness.ready() ? 200 : 503).json(body);
    }

    private void started(Context ctx) {
        boolean started = health.isStarted();
        ctx.status(started ? 200 : 503).json(Map.of("status", started ? "UP" : "DOWN"));
    }

    // ---- plumbing ----

    private void recordRequest(Context ctx) {
        Long startedAt = ctx.attribute(STARTED_AT);
        if (startedAt == null) {
            return;
        }
        String route;
        try {
            // The after-handler's own endpoint is the wildcard; the route is the last HTTP endpoint matched.
            route = ctx.endpoints().lastHttpEndpoint().path;
        } catch (RuntimeException e) {
            route = "unmatched";
        }
        metrics.request(ctx.method().name(), route, ctx.statusCode(), Duration.ofNanos(System.nanoTime() - startedAt));
    }

    private void writeProblem(Context ctx, Problem problem) {
        problem.headers().forEach(ctx::header);
        try {
            ctx.status(problem.status())
                    .contentType(Problem.CONTENT_TYPE)
                    .result(json.writeValueAsBytes(problem.body(ctx.path())));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Problem fromJavalin(HttpResponseException e) {
        int status = e.getStatus();
        if (status == 413) {
            return bodies.tooLarge(-1);
        }
        String title = switch (status) {
            case 400 -> "Invalid request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not found";
            default -> "Request failed";
        };
        return Problem.of(status, title, e.getMessage() == null ? title : e.getMessage());
    }

    private static byte[] resource(String name) {
        try (InputStream in = HttpApi.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " is missing from the server jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

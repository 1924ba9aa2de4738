package dev.chorus.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.events.Event;
import dev.chorus.events.EventHub;
import dev.chorus.health.Health;
import dev.chorus.membership.Membership;
import dev.chorus.server.ChorusServer;
import dev.chorus.server.ResourceService;
import dev.chorus.server.ServerConfig;
import dev.chorus.server.ServerHealth;
import dev.chorus.server.ServerMetrics;
import dev.chorus.server.agents.AgentSessions;
import dev.chorus.server.auth.AuthenticationException;
import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.FailureThrottle;
import dev.chorus.server.auth.Principal;
import dev.chorus.server.auth.Roles;
import dev.chorus.server.auth.SigningKey;
import dev.chorus.server.auth.Tokens;
import dev.chorus.server.destinations.Destinations;
import dev.chorus.server.store.Precondition;
import dev.chorus.server.store.PreconditionFailedException;
import dev.chorus.server.store.Resource;
import dev.chorus.server.store.ResourceKey;
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
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's HTTP surface: resources, events, tokens and keys, health, metrics and the OpenAPI document.
 * Every client error is a 4xx {@code application/problem+json} that names what was wrong; a rejected request
 * changes nothing.
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
    private static final Pattern ETAG = Pattern.compile("\"(\\d{1,18})\"");
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
    private final ResourceService resources;
    private final EventHub hub;
    private final ServerHealth health;
    private final ServerMetrics metrics;
    private final SigningKey key;
    private final Clients clients;
    private final Tokens tokens;
    private final Bearer bearer;
    private final FailureThrottle throttle = new FailureThrottle(java.time.Clock.systemUTC());
    private final Cluster cluster;
    private final byte[] openApi;
    private final SocketOptions socketOptions;
    private final @Nullable ManagementPort management;
    /** The management port actually bound (it may be 0 in the settings), once started. */
    private final java.util.concurrent.atomic.AtomicInteger managementPort =
            new java.util.concurrent.atomic.AtomicInteger(-1);

    private final SocketWatch watch;
    private final EventSocket events;
    private final AgentSocket agentSockets;

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
        this.resources = resources;
        this.hub = hub;
        this.health = health;
        this.metrics = metrics;
        this.key = key;
        this.clients = clients;
        this.tokens = tokens;
        this.bearer = new Bearer(tokens);
        this.cluster = cluster;
        this.openApi = resource("/dev/chorus/server/openapi.json");
        this.socketOptions = SocketOptions.from(config);
        this.management = ManagementPort.from(config);
        this.watch = new SocketWatch(socketOptions);
        this.events = new EventSocket(hub, bearer, json, replica, watch, socketOptions);
        this.agentSockets = new AgentSocket(cluster.agents(), bearer, clients, watch, socketOptions);
        metrics.sockets("events", events::size);
        metrics.sockets("agents", agentSockets::size);
        metrics.agents(cluster.agents()::localCount);
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
            factory.addMapping("/ws/events", events::create);
            factory.addMapping("/ws/agents", agentSockets::create);
        });
        ClusterRoutes clusterRoutes = new ClusterRoutes(
                bearer,
                json,
                cluster.agents(),
                cluster.sessions(),
                cluster.calls(),
                cluster.verifier(),
                cluster.membership(),
                cluster.backplane());

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
        cfg.routes.get(
                "/.well-known/jwks.json",
                ctx -> ctx.header("Cache-Control", "max-age=300").json(key.jwks()));
        cfg.routes.post("/oauth/token", this::token);

        cfg.routes.get("/api/resources/{type}/{id}", this::getResource);
        cfg.routes.put("/api/resources/{type}/{id}", this::putResource);
        cfg.routes.delete("/api/resources/{type}/{id}", this::deleteResource);
        cfg.routes.post("/api/events", this::postEvent);

        cfg.routes.get("/api/agents", clusterRoutes::listAgents);
        cfg.routes.put("/api/agents/{id}/config", clusterRoutes::configureAgent);
        cfg.routes.get("/api/cluster", clusterRoutes::cluster);
        DestinationRoutes destinationRoutes = new DestinationRoutes(bearer, json, cluster.destinations());
        cfg.routes.post("/api/destinations", destinationRoutes::create);
        cfg.routes.get("/api/destinations", destinationRoutes::list);
        cfg.routes.get("/api/destinations/{id}", destinationRoutes::get);
        cfg.routes.delete("/api/destinations/{id}", destinationRoutes::delete);
        cfg.routes.get("/api/destinations/{id}/$status", destinationRoutes::status);
        cfg.routes.get("/api/cluster/verify", clusterRoutes::verify);

        cfg.routes.wsBeforeUpgrade("/ws/events", events::beforeUpgrade);
        cfg.routes.ws("/ws/events", ws -> {});
        cfg.routes.wsBeforeUpgrade("/ws/agents", agentSockets::beforeUpgrade);
        cfg.routes.ws("/ws/agents", ws -> {});

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
                writeProblem(ctx, tooLarge(-1));
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

    // ---- resources ----

    private void getResource(Context ctx) {
        Principal principal = bearer.require(ctx, null);
        ResourceKey key = key(ctx, principal);
        boolean bypass = "no-cache".equalsIgnoreCase(ctx.header("Cache-Control"));
        Resource resource = resources.get(key, bypass).orElseThrow(() -> notFound(key));
        ctx.header("ETag", resource.etag());
        String ifNoneMatch = ctx.header("If-None-Match");
        if (ifNoneMatch != null && (ifNoneMatch.strip().equals("*") || ifNoneMatch.contains(resource.etag()))) {
            ctx.status(304);
            return;
        }
        ctx.header("Last-Modified-Version", Long.toString(resource.version()));
        ctx.contentType("application/json").result(resource.body());
    }

    private void putResource(Context ctx) {
        Principal principal = bearer.requireRole(ctx, WRITER);
        ResourceKey key = key(ctx, principal);
        Precondition precondition = precondition(ctx, true);
        String contentType = ctx.contentType();
        if (contentType == null || !contentType.toLowerCase(Locale.ROOT).startsWith("application/json")) {
            throw Problem.of(
                            415,
                            "Unsupported media type",
                            "send the resource as 'Content-Type: application/json'"
                                    + (contentType == null ? "" : ", not '" + contentType + "'"))
                    .with("field", "Content-Type");
        }
        byte[] body = body(ctx);
        JsonNode document;
        try {
            document = json.readTree(body);
        } catch (JsonProcessingException e) {
            throw Problem.badField(
                    "body",
                    "the body is not valid JSON: " + e.getOriginalMessage()
                            + (e.getLocation() == null
                                    ? ""
                                    : " at line " + e.getLocation().getLineNr() + ", column "
                                            + e.getLocation().getColumnNr()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (document == null || !document.isObject()) {
            throw Problem.badField(
                    "body",
                    "a resource is a JSON object ({...}), not "
                            + (document == null
                                    ? "an empty body"
                                    : "a JSON " + document.getNodeType().name().toLowerCase(Locale.ROOT)));
        }
        Resource stored = resources.put(key, body, precondition);
        ctx.header("ETag", stored.etag());
        ctx.status(stored.version() == 1 ? 201 : 200);
        ctx.json(describe(stored));
    }

    private void deleteResource(Context ctx) {
        Principal principal = bearer.requireRole(ctx, WRITER);
        ResourceKey key = key(ctx, principal);
        Precondition precondition = precondition(ctx, false);
        Optional<Resource> deleted = resources.delete(key, precondition);
        if (deleted.isEmpty()) {
            throw notFound(key);
        }
        ctx.status(204);
    }

    private Map<String, Object> describe(Resource resource) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", resource.key().type());
        body.put("id", resource.key().id());
        body.put("version", resource.version());
        body.put("updated", resource.updated().toString());
        return body;
    }

    private static ResourceKey key(Context ctx, Principal principal) {
        String type = ctx.pathParam("type");
        String id = ctx.pathParam("id");
        if (!ResourceKey.TYPE.matcher(type).matches()) {
            throw Problem.badField(
                    "type",
                    "type '" + abbreviate(type) + "' must match " + ResourceKey.TYPE.pattern()
                            + " (lower case letters, digits, '_' and '-', up to 64, starting with a letter)");
        }
        if (!ResourceKey.ID.matcher(id).matches()) {
            throw Problem.badField(
                    "id",
                    "id '" + abbreviate(id) + "' must match " + ResourceKey.ID.pattern()
                            + " (letters, digits, '.', '_', '~' and '-', up to 128)");
        }
        return new ResourceKey(principal.tenant(), type, id);
    }

    private static Precondition precondition(Context ctx, boolean allowIfNoneMatch) {
        String ifMatch = ctx.header("If-Match");
        String ifNoneMatch = ctx.header("If-None-Match");
        if (ifMatch != null && ifNoneMatch != null) {
            throw Problem.badField("If-None-Match", "send If-Match or If-None-Match, not both");
        }
        if (ifMatch != null) {
            String value = ifMatch.strip();
            if (value.equals("*")) {
                return Precondition.PRESENT;
            }
            Matcher m = ETAG.matcher(value);
            if (!m.matches()) {
                throw Problem.badField(
                        "If-Match",
                        "If-Match must be '*' or one entity tag as the ETag header gave"
                                + " it, such as \"3\" (with the quotes), not '" + abbreviate(value) + "'");
            }
            return Precondition.version(Long.parseLong(m.group(1)));
        }
        if (ifNoneMatch != null) {
            if (!allowIfNoneMatch || !ifNoneMatch.strip().equals("*")) {
                throw Problem.badField(
                        "If-None-Match",
                        allowIfNoneMatch
                                ? "on a write, If-None-Match can only be '*' (create only if absent)"
                                : "If-None-Match is not supported on DELETE; use If-Match");
            }
            return Precondition.ABSENT;
        }
        return Precondition.NONE;
    }

    private byte[] body(Context ctx) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > config.maxBodyBytes()) {
            throw tooLarge(declared);
        }
        byte[] body = ctx.bodyAsBytes();
        if (body.length > config.maxBodyBytes()) {
            throw tooLarge(body.length);
        }
        return body;
    }

    private Problem tooLarge(long size) {
        return Problem.of(
                        413,
                        "Content too large",
                        (size < 0 ? "the body is too large" : "the body is " + size + " bytes")
                                + "; a request body may be at most " + config.maxBodyBytes() + " bytes (1 MiB)")
                .with("field", "body");
    }

    private static Problem notFound(ResourceKey key) {
        return Problem.of(404, "Not found", "no resource " + key.type() + "/" + key.id() + " in your tenant");
    }

    // ---- events ----

    private void postEvent(Context ctx) {
        Principal principal = bearer.require(ctx, null);
        JsonNode body = jsonBody(ctx);
        String type = text(body, "type", true);
        if (type.isEmpty() || type.length() > Event.MAX_TYPE_LENGTH) {
            throw Problem.badField(
                    "/type", "type is " + type.length() + " characters; it must be 1 to " + Event.MAX_TYPE_LENGTH);
        }
        for (String reserved : RESERVED_EVENT_PREFIXES) {
            if (type.startsWith(reserved)) {
                throw Problem.badField(
                        "/type",
                        "event types starting with " + RESERVED_EVENT_PREFIXES
                                + " are sent by the server itself and cannot be sent by a client; choose another"
                                + " type, such as 'app." + abbreviate(type.substring(reserved.length())) + "'");
            }
        }
        String to = Optional.ofNullable(text(body, "to", false)).orElse("tenant");
        String tenant = Optional.ofNullable(text(body, "tenant", false)).orElse(principal.tenant());
        if (tenant.isBlank()) {
            throw Problem.badField("/tenant", "tenant must not be blank; leave it out for your own tenant");
        }
        boolean ownTenant = tenant.equals(principal.tenant());
        JsonNode data = body.has("data") ? body.get("data") : json.nullNode();
        byte[] bytes;
        try {
            bytes = json.writeValueAsBytes(data);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        Event event = new Event(type, bytes);
        switch (to) {
            case "everyone" -> {
                if (body.has("tenant")) {
                    throw Problem.badField("/tenant", "an event to everyone goes to every tenant; leave tenant out");
                }
                requireRole(principal, Roles.OPERATOR, "send an event to every tenant");
                hub.broadcast(event);
            }
            case "tenant" -> {
                requireRole(
                        principal,
                        ownTenant ? Roles.WRITER : Roles.OPERATOR,
                        ownTenant ? "send an event to your tenant" : "send an event to another tenant");
                hub.toTenant(tenant, event);
            }
            case "user" -> {
                String user = text(body, "user", true);
                if (!ownTenant) {
                    requireRole(principal, Roles.OPERATOR, "send an event to a user of another tenant");
                } else if (!user.equals(principal.user())) {
                    requireRole(principal, Roles.ADMIN, "send an event to another user of your tenant");
                }
                hub.toUser(tenant, user, event);
            }
            default ->
                throw Problem.badField(
                        "/to", "to must be 'everyone', 'tenant' or 'user', not '" + abbreviate(to) + "'");
        }
        ctx.status(202).json(Map.of("accepted", true));
    }

    private static void requireRole(Principal principal, String role, String what) {
        if (!principal.roles().contains(role)) {
            throw Problem.of(
                    403, "Forbidden", "client '" + principal.clientId() + "' needs the role '" + role + "' to " + what);
        }
    }

    private JsonNode jsonBody(Context ctx) {
        byte[] bytes = body(ctx);
        try {
            JsonNode node = json.readTree(bytes);
            if (node == null || !node.isObject()) {
                throw Problem.badField("body", "the body must be a JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw Problem.badField("body", "the body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static @Nullable String text(JsonNode body, String field, boolean required) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            if (required) {
                throw Problem.badField("/" + field, "'" + field + "' is required");
            }
            return null;
        }
        if (!node.isTextual()) {
            throw Problem.badField(
                    "/" + field,
                    "'" + field + "' must be a string, not a JSON "
                            + node.getNodeType().name().toLowerCase(Locale.ROOT));
        }
        return node.textValue();
    }

    // ---- tokens ----

    private void token(Context ctx) {
        ctx.header("Cache-Control", "no-store");
        String grant = ctx.formParam("grant_type");
        String id = ctx.formParam("client_id");
        String secret = ctx.formParam("client_secret");
        String authorization = ctx.header("Authorization");
        if (authorization != null && authorization.regionMatches(true, 0, "Basic ", 0, 6)) {
            String decoded;
            try {
                decoded = new String(
                        Base64.getDecoder().decode(authorization.substring(6).strip()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                oauthError(ctx, 401, "invalid_client", "the Basic credentials are not valid base64");
                return;
            }
            int colon = decoded.indexOf(':');
            if (colon < 0) {
                oauthError(ctx, 401, "invalid_client", "the Basic credentials must be 'client_id:client_secret'");
                return;
            }
            id = decoded.substring(0, colon);
            secret = decoded.substring(colon + 1);
        }
        if (grant == null) {
            oauthError(
                    ctx,
                    400,
                    "invalid_request",
                    "grant_type is required (grant_type=client_credentials),"
                            + " sent as application/x-www-form-urlencoded");
            return;
        }
        if (!grant.equals("client_credentials")) {
            oauthError(ctx, 400, "unsupported_grant_type", "only grant_type=client_credentials is supported");
            return;
        }
        if (id == null || secret == null) {
            oauthError(ctx, 401, "invalid_client", "send client_id and client_secret (form fields or HTTP Basic)");
            return;
        }
        String address = ctx.req().getRemoteAddr();
        Duration wait = throttle.waitFor(id, address);
        if (!wait.isZero()) {
            ctx.header("Retry-After", Long.toString(Math.max(1, (wait.toMillis() + 999) / 1000)));
            oauthError(
                    ctx,
                    429,
                    "slow_down",
                    "too many failed attempts for this client or from this address; retry after the Retry-After"
                            + " seconds");
            return;
        }
        Principal principal;
        try {
            principal = clients.authenticate(id, secret);
        } catch (AuthenticationException e) {
            throttle.failed(id, address);
            oauthError(ctx, 401, "invalid_client", e.getMessage());
            return;
        }
        throttle.succeeded(id);
        Tokens.Issued issued = tokens.issue(principal);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("access_token", issued.token());
        body.put("token_type", "Bearer");
        body.put("expires_in", issued.expiresIn());
        ctx.json(body);
    }

    private static void oauthError(Context ctx, int status, String error, String description) {
        if (status == 401) {
            ctx.header("WWW-Authenticate", "Basic realm=\"chorus\"");
        }
        ctx.status(status).json(Map.of("error", error, "error_description", description));
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
            return tooLarge(-1);
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

    private static String abbreviate(String value) {
        return value.length() <= 64 ? value : value.substring(0, 64) + "…";
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

package dev.chorus.server;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.Backoff;
import dev.chorus.ChorusConfig;
import dev.chorus.ChorusException;
import dev.chorus.ChorusVersion;
import dev.chorus.ConfigurationException;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.cache.KeyCodec;
import dev.chorus.cache.ReplicatedCache;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.events.EventHub;
import dev.chorus.jgroups.JGroupsBackplane;
import dev.chorus.leases.Leases;
import dev.chorus.local.LocalCluster;
import dev.chorus.membership.Membership;
import dev.chorus.postgres.PostgresBackplane;
import dev.chorus.postgres.PostgresDatabase;
import dev.chorus.postgres.PostgresDefinitionStore;
import dev.chorus.postgres.PostgresLeases;
import dev.chorus.postgres.PostgresMembership;
import dev.chorus.redis.RedisBackplane;
import dev.chorus.redis.RedisConnector;
import dev.chorus.redis.RedisLeases;
import dev.chorus.registry.DefinitionStore;
import dev.chorus.registry.InMemoryDefinitionStore;
import dev.chorus.server.agents.AgentSessions;
import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.SigningKey;
import dev.chorus.server.auth.Tokens;
import dev.chorus.server.destinations.Destinations;
import dev.chorus.server.destinations.WebhookSettings;
import dev.chorus.server.http.HttpApi;
import dev.chorus.server.store.InMemoryResourceStore;
import dev.chorus.server.store.PostgresResourceStore;
import dev.chorus.server.store.Resource;
import dev.chorus.server.store.ResourceStore;
import dev.chorus.sessions.Sessions;
import dev.chorus.verify.ClusterVerifier;
import io.javalin.Javalin;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running replica of the reference server: it builds the backplane, membership, storage, replicated
 * cache, event hub and keys from a {@link ServerConfig}, serves HTTP and WebSocket on top, and closes them all
 * in reverse order.
 */
public final class ChorusServer implements AutoCloseable {

    /** The name of the replicated cache of resources. */
    public static final String RESOURCE_CACHE = "resources";

    /** WebSocket close code "service restart" (RFC 6455 registry): the client should reconnect. */
    public static final int DRAIN_CLOSE_CODE = 1012;

    /** How long HTTP waits for in-flight requests when it stops, after the drain delay. */
    public static final Duration HTTP_STOP_TIMEOUT = Duration.ofSeconds(5);

    /**
     * How long closing takes at most after the drain delay: HTTP's stop ({@link #HTTP_STOP_TIMEOUT}), then
     * leaving membership and releasing leases, each a round trip or two. Orchestrators' grace periods must
     * exceed their pre-stop pause plus {@code CHORUS_DRAIN_DELAY} plus this; the deployment tests check that
     * every manifest does, and that a replica does exit within it.
     */
    public static final Duration CLOSE_BUDGET = Duration.ofSeconds(10);

    private static final Logger LOG = LoggerFactory.getLogger(ChorusServer.class);

    private final ReplicaId replica;
    private final Deque<AutoCloseable> closeables;
    private final Javalin http;
    private final ServerHealth health;
    private final Backplane backplane;
    private final Membership membership;
    private final HttpApi api;
    private final Sessions sessions;
    private final AgentSessions agents;
    private final AtomicBoolean draining = new AtomicBoolean();

    private ChorusServer(
            ReplicaId replica,
            Deque<AutoCloseable> closeables,
            Javalin http,
            ServerHealth health,
            Backplane backplane,
            Membership membership,
            HttpApi api,
            Sessions sessions,
            AgentSessions agents) {
        this.replica = replica;
        this.closeables = closeables;
        this.http = http;
        this.health = health;
        this.backplane = backplane;
        this.membership = membership;
        this.api = api;
        this.sessions = sessions;
        this.agents = agents;
    }

    /**
     * Starts a replica: everything it needs, then the HTTP listener.
     *
     * @throws ConfigurationException when a setting is invalid (the message names it and the fix)
     */
    public static ChorusServer start(ServerConfig config) {
        ChorusConfig chorus = config.chorus();
        ReplicaId replica = ReplicaId.random(chorus.replicaName().orElse(null));
        LogContext.replica(replica);
        Deque<AutoCloseable> closeables = new ArrayDeque<>();
        try {
            SigningKey key = SigningKey.fromEnvironment(config.env());
            Clients clients = Clients.fromEnvironment(config.env());
            if (clients.isEmpty() && config.embedded()) {
                String secret = randomSecret();
                clients = Clients.demo(secret);
                LOG.warn(
                        "No CHORUS_CLIENTS configured: created client 'demo' with secret {} for this run only"
                                + " (POST /oauth/token with grant_type=client_credentials). Configure"
                                + " CHORUS_CLIENTS for anything but a local try-out.",
                        secret);
            } else if (clients.isEmpty()) {
                LOG.warn("No CHORUS_CLIENTS configured: no one can obtain a token from this replica");
            }
            Tokens tokens = Tokens.fromEnvironment(config.env(), key);

            Map<String, String> attributes = Map.of(
                    ServerHealth.KEY_ATTRIBUTE, key.fingerprint(),
                    ServerHealth.KEY_GENERATED_ATTRIBUTE, Boolean.toString(key.generated()));

            PostgresDatabase database = null;
            if (chorus.databaseUrl().isPresent()) {
                database = PostgresDatabase.builder(chorus.databaseUrl().get()).build();
                closeables.push(database);
                // Membership and leases live here whatever the backplane; only the PostgreSQL backplane
                // created the tables by itself, so on another backplane a fresh database had none.
                try {
                    database.ensureSchema();
                } catch (java.sql.SQLException e) {
                    throw new ChorusException(
                            "Could not create Chorus's tables (schema '" + database.schema() + "') on "
                                    + database.describe() + ": " + e.getMessage()
                                    + ". The user of DATABASE_URL needs CREATE on the database, or run schema.sql"
                                    + " from the chorus-postgres jar yourself.",
                            e);
                }
            }
            ResourceStore store = database == null
                    ? new InMemoryResourceStore()
                    : PostgresResourceStore.builder(chorus.databaseUrl().get())
                            .schema(config.storageSchema())
                            .build();
            closeables.push(store);

            Backplane backplane;
            Membership membership;
            Leases leases;
            switch (chorus.backplane()) {
                case INPROCESS -> {
                    LocalCluster.LocalReplica local = LocalCluster.builder(chorus.channel())
                            .subscriptionBytes(chorus.receiveQueueBytes())
                            .build()
                            .join(replica, ChorusVersion.current(), attributes);
                    closeables.push(local);
                    backplane = local.backplane();
                    leases = local.leases();
                    membership = database == null
                            ? local.membership()
                            : postgresMembership(database, replica, chorus, attributes, closeables);
                }
                case POSTGRES -> {
                    PostgresBackplane postgres = PostgresBackplane.from(chorus, requireNonNull(database), replica);
                    closeables.push(postgres);
                    backplane = postgres;
                    if (store instanceof PostgresResourceStore resourceStore) {
                        // Each write's cache invalidation rides in the write's COMMIT (docs/postgres.md).
                        resourceStore.wrapTransactions(postgres::withOutbox);
                    }
                    leases = PostgresLeases.builder(requireNonNull(database), replica)
                            .cluster(chorus.channel())
                            .build();
                    closeables.push(leases);
                    membership = postgresMembership(requireNonNull(database), replica, chorus, attributes, closeables);
                }
                case REDIS -> {
                    String url = chorus.redisUrl()
                            .orElseThrow(() -> new ConfigurationException(
                                    ChorusConfig.REDIS_URL,
                                    "CHORUS_BACKPLANE=redis needs REDIS_URL (for example"
                                            + " REDIS_URL=redis://redis:6379)"));
                    RedisConnector redis =
                            RedisConnector.builder(url).prefix(chorus.channel()).build();
                    closeables.push(redis);
                    RedisBackplane redisBackplane = RedisBackplane.from(chorus, redis, replica);
                    closeables.push(redisBackplane);
                    backplane = redisBackplane;
                    leases = RedisLeases.from(chorus, redis, replica);
                    closeables.push(leases);
                    membership = postgresMembership(requireNonNull(database), replica, chorus, attributes, closeables);
                }
                case JGROUPS -> {
                    JGroupsBackplane mesh = JGroupsBackplane.from(chorus, replica);
                    closeables.push(mesh);
                    backplane = mesh;
                    // The mesh has no shared store for fenced leases (docs/jgroups.md): they live in PostgreSQL,
                    // like membership, which also sees replicas that could not join the mesh.
                    leases = PostgresLeases.builder(requireNonNull(database), replica)
                            .cluster(chorus.channel())
                            .build();
                    closeables.push(leases);
                    membership = postgresMembership(requireNonNull(database), replica, chorus, attributes, closeables);
                }
                default -> throw new IllegalStateException("no wiring for backplane " + chorus.backplane());
            }

            ReplicatedCache<String, Resource> cache = ReplicatedCache.<String, Resource>builder(
                            backplane, RESOURCE_CACHE, KeyCodec.strings())
                    .config(chorus)
                    .weigher(resource -> resource.body().length)
                    .membership(membership)
                    .build();
            closeables.push(cache);
            EventHub hub = EventHub.builder(backplane).config(chorus).build();
            closeables.push(hub);

            // Trailing content after a JSON document is a client's mistake (400), never silently dropped.
            ObjectMapper json = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
            ClusterCalls calls = new ClusterCalls(backplane, membership);
            closeables.push(calls);
            DefinitionStore definitions = database == null
                    ? new InMemoryDefinitionStore()
                    : new PostgresDefinitionStore(database, chorus.channel());
            Destinations destinations = new Destinations(
                    backplane,
                    definitions,
                    calls,
                    json,
                    new Backoff(Duration.ofMillis(200), Duration.ofSeconds(5)),
                    WebhookSettings.from(config));
            closeables.push(destinations);
            ResourceService resources = new ResourceService(store, cache, hub, backplane, json, destinations);
            ServerHealth health = new ServerHealth(config, backplane, membership, store, cache, key.fingerprint());
            closeables.push(health.watch());
            ServerMetrics metrics = new ServerMetrics(backplane, cache, hub);
            closeables.push(metrics);

            Sessions sessions = AgentSessions.sessions(config, backplane, leases, membership);
            closeables.push(sessions);
            ClusterVerifier verifier = new ClusterVerifier(membership, calls, sessions, chorus.maxInstances());
            closeables.push(verifier);
            AgentSessions agents = new AgentSessions(sessions, calls, json);
            closeables.push(agents);

            HttpApi api = new HttpApi(
                    config,
                    replica,
                    json,
                    resources,
                    hub,
                    health,
                    metrics,
                    key,
                    clients,
                    tokens,
                    new HttpApi.Cluster(agents, sessions, calls, verifier, membership, backplane, destinations));
            Javalin http = api.start();
            closeables.push(http::stop);
            health.started();
            LOG.info(
                    "Chorus server {} listening on {}:{}: backplane {}, channel '{}', storage {}{}, key {}{}",
                    ChorusVersion.current(),
                    config.host(),
                    http.port(),
                    backplane.backend(),
                    chorus.channel(),
                    store.kind(),
                    chorus.databaseUrlMasked().map(u -> " (" + u + ")").orElse(""),
                    key.fingerprint(),
                    key.generated() ? " (generated)" : "");
            return new ChorusServer(replica, closeables, http, health, backplane, membership, api, sessions, agents);
        } catch (RuntimeException e) {
            closeAll(closeables);
            throw e;
        }
    }

    private static PostgresMembership postgresMembership(
            PostgresDatabase database,
            ReplicaId replica,
            ChorusConfig chorus,
            Map<String, String> attributes,
            Deque<AutoCloseable> closeables) {
        PostgresMembership membership = PostgresMembership.builder(database, replica)
                .cluster(chorus.channel())
                .version(ChorusVersion.current())
                .attributes(attributes)
                .build();
        closeables.push(membership);
        return membership;
    }

    private static <T> T requireNonNull(@Nullable T value) {
        if (value == null) {
            throw new ConfigurationException(ChorusConfig.DATABASE_URL, "DATABASE_URL is required here");
        }
        return value;
    }

    private static String randomSecret() {
        byte[] bytes = new byte[24];
        new SecureRandom().nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** This replica's id. */
    public ReplicaId replica() {
        return replica;
    }

    /** The HTTP port actually bound. */
    public int port() {
        return http.port();
    }

    /** The management port actually bound, or -1 when none is configured. */
    public int managementPort() {
        return api.managementPort();
    }

    /** The replica's health. */
    public ServerHealth health() {
        return health;
    }

    /** The replica's backplane. */
    public Backplane backplane() {
        return backplane;
    }

    /** The replica's membership. */
    public Membership membership() {
        return membership;
    }

    /**
     * Leaves the cluster gracefully: readiness fails at once so load balancers stop sending traffic; after
     * {@code delay} sessions answer dispatches with OWNER_DRAINING, every WebSocket is closed with 1012
     * ({@code ServiceShuttingDown}) so clients reconnect elsewhere, in-flight requests finish and everything
     * closes (membership leaves, leases are released). Returns false if a drain was already under way.
     */
    public boolean drain(Duration delay) {
        if (!draining.compareAndSet(false, true)) {
            return false;
        }
        LOG.info("Draining: readiness fails from now on; sockets close in {} ms", delay.toMillis());
        health.draining();
        // A deliberate wait, not synchronisation: the time load balancers need to see readiness fail.
        long deadline = System.nanoTime() + delay.toNanos();
        for (long left = delay.toNanos(); left > 0; left = deadline - System.nanoTime()) {
            LockSupport.parkNanos(left);
        }
        sessions.drain();
        String reason = "ServiceShuttingDown: reconnect to another replica";
        api.closeSockets(DRAIN_CLOSE_CODE, reason);
        agents.closeAll(DRAIN_CLOSE_CODE, reason);
        close();
        return true;
    }

    /** Whether {@link #drain} has begun. */
    public boolean isDraining() {
        return draining.get();
    }

    /** Stops serving and closes everything, newest first; idempotent. */
    @Override
    public void close() {
        if (closeAll(closeables)) {
            LOG.info("Chorus server {} stopped", replica);
        }
    }

    /** Closes what is left, newest first; false when nothing was. */
    private static boolean closeAll(Deque<AutoCloseable> closeables) {
        synchronized (closeables) {
            boolean any = !closeables.isEmpty();
            while (!closeables.isEmpty()) {
                AutoCloseable next = closeables.pop();
                try {
                    next.close();
                } catch (Exception e) {
                    LOG.warn("Closing {} failed: {}", next, e.toString());
                }
            }
            return any;
        }
    }
}

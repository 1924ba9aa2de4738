package dev.chorus.server.agents;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.backplane.Backplane;
import dev.chorus.cluster.CallResult;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.leases.Leases;
import dev.chorus.membership.Membership;
import dev.chorus.server.ServerConfig;
import dev.chorus.sessions.Acceptance;
import dev.chorus.sessions.Dispatch;
import dev.chorus.sessions.DispatchResult;
import dev.chorus.sessions.Session;
import dev.chorus.sessions.SessionHandler;
import dev.chorus.sessions.Sessions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agents connected to this replica, each one a fenced session ({@link Sessions}): connecting claims it,
 * a config dispatched from any replica reaches the owner and completes when the agent acknowledges, and the
 * cluster-wide list is gathered from every replica over {@link ClusterCalls}.
 */
public final class AgentSessions implements AutoCloseable {

    /** The allowed form of an agent id. */
    public static final Pattern AGENT_ID = Pattern.compile("[A-Za-z0-9._~-]{1,128}");
    /** How long a config sent to an agent waits for its ack or nack: longer than any dispatch timeout. */
    public static final Duration UNACKNOWLEDGED_EXPIRY = Duration.ofSeconds(65);

    /** {@code CHORUS_SESSION_LEASE_TTL}: how long an agent's session outlives its replica's last renewal. */
    public static final String SESSION_LEASE_TTL = "CHORUS_SESSION_LEASE_TTL";
    /**
     * {@code CHORUS_SESSION_LEGACY_FAILOVER}: {@code true} restores the failover of before issue 20, for
     * comparison only (the failover benchmark's "before" row); logged at WARN.
     */
    public static final String SESSION_LEGACY_FAILOVER = "CHORUS_SESSION_LEGACY_FAILOVER";

    /** The cluster call that lists a replica's agents. */
    static final String LIST_CALL = "chorus.server.agents";

    private static final Logger LOG = LoggerFactory.getLogger(AgentSessions.class);

    private final Sessions sessions;
    private final ClusterCalls calls;
    private final ObjectMapper json;
    private final Map<String, Agent> local = new ConcurrentHashMap<>();
    private final Duration unacknowledgedExpiry;

    public AgentSessions(Sessions sessions, ClusterCalls calls, ObjectMapper json) {
        this(sessions, calls, json, UNACKNOWLEDGED_EXPIRY);
    }

    /** As above, with configs answered TIMEOUT after {@code unacknowledgedExpiry} without an ack (tests). */
    AgentSessions(Sessions sessions, ClusterCalls calls, ObjectMapper json, Duration unacknowledgedExpiry) {
        this.unacknowledgedExpiry = unacknowledgedExpiry;
        this.sessions = sessions;
        this.calls = calls;
        this.json = json;
        calls.serve(LIST_CALL, this::listLocal);
    }

    /** The sessions of this replica, configured from {@code config}: lease TTL and failover mode. */
    public static Sessions sessions(ServerConfig config, Backplane backplane, Leases leases, Membership membership) {
        boolean legacy = config.flag(
                SESSION_LEGACY_FAILOVER,
                "true makes dispatches wait out a dead owner and claims go one by one, as before issue 20");
        if (legacy) {
            LOG.warn(
                    "{}=true: dispatches wait out a silent owner until their timeout and agent sessions are claimed"
                            + " one round trip each, as before issue 20. For comparisons only; unset it in"
                            + " production.",
                    SESSION_LEGACY_FAILOVER);
        }
        return Sessions.builder(backplane, leases)
                .membership(membership)
                .leaseTtl(config.duration(SESSION_LEASE_TTL, Sessions.DEFAULT_LEASE_TTL))
                .fastFailover(!legacy)
                .build();
    }

    /** The session id of agent {@code agentId} of {@code tenant}: agents of two tenants never collide. */
    public static String sessionId(String tenant, String agentId) {
        return "agent:" + tenant.length() + ":" + tenant + ":" + agentId;
    }

    /** How a connected agent's socket is driven: send a frame, close with a code and reason. */
    public interface Link {
        /** Sends one JSON text frame. */
        void send(String frame);

        /** Closes the socket. */
        void close(int code, String reason);
    }

    /**
     * Claims the agent's session for {@code link}; the previous holder anywhere is superseded. Completes
     * with the agent once this replica owns it.
     */
    public CompletableFuture<Agent> connect(String tenant, String agentId, Link link) {
        Agent agent = new Agent(tenant, agentId, link);
        return sessions.claim(sessionId(tenant, agentId), agent).thenApply(session -> {
            agent.session = session;
            Agent previous = local.put(session.id(), agent);
            if (previous != null && previous != agent) {
                previous.link.close(4000, "superseded by a newer connection of the same agent");
            }
            return agent;
        });
    }

    /** Dispatches {@code config} to the agent wherever it is connected, completing when it acknowledged. */
    public CompletionStage<DispatchResult> dispatch(String tenant, String agentId, byte[] config, Duration timeout) {
        return sessions.dispatch(sessionId(tenant, agentId), config, timeout);
    }

    /** Every live agent of {@code tenant} on every replica, with the replica owning it; replicas that did not answer are listed apart. */
    public CompletableFuture<Map<String, Object>> list(String tenant, Duration timeout) {
        return calls.askAll(LIST_CALL, tenant.getBytes(StandardCharsets.UTF_8), timeout)
                .thenApply(results -> {
                    List<Map<String, Object>> agents = new ArrayList<>();
                    List<Map<String, Object>> silent = new ArrayList<>();
                    for (CallResult result : results) {
                        if (!result.ok()) {
                            silent.add(Map.of(
                                    "replica", result.replica().toString(),
                                    "error", String.valueOf(result.error())));
                            continue;
                        }
                        try {
                            for (JsonNode node : json.readTree(result.reply())) {
                                Map<String, Object> agent = new LinkedHashMap<>();
                                agent.put("id", node.path("id").asText());
                                agent.put("replica", result.replica().toString());
                                agent.put("token", node.path("token").asLong());
                                agent.put("connected", node.path("connected").asText());
                                agents.add(agent);
                            }
                        } catch (IOException e) {
                            silent.add(Map.of("replica", result.replica().toString(), "error", e.toString()));
                        }
                    }
                    agents.sort(Comparator.comparing(a -> (String) a.get("id")));
                    Map<String, Object> body = new LinkedHashMap<>();
                    body.put("agents", agents);
                    body.put("unanswered", silent);
                    return body;
                });
    }

    private byte[] listLocal(byte[] request) {
        String tenant = new String(request, StandardCharsets.UTF_8);
        List<Map<String, Object>> mine = new ArrayList<>();
        for (Agent agent : local.values()) {
            Session session = agent.session;
            if (agent.tenant.equals(tenant) && session != null && session.isActive()) {
                mine.add(Map.of(
                        "id", agent.agentId,
                        "token", session.token(),
                        "connected", agent.connected.toString()));
            }
        }
        try {
            return json.writeValueAsBytes(mine);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** How many agents this replica holds. */
    public int localCount() {
        return local.size();
    }

    /** Closes every agent socket with {@code code} and {@code reason} (drain: they reconnect elsewhere). */
    public void closeAll(int code, String reason) {
        for (Agent agent : List.copyOf(local.values())) {
            agent.link.close(code, reason);
        }
    }

    @Override
    public void close() {
        calls.unserve(LIST_CALL);
    }

    /** One connected agent: its socket, its session, the configs it has not acknowledged yet. */
    public final class Agent implements SessionHandler {

        private final String tenant;
        private final String agentId;
        private final Link link;
        private final Instant connected = Instant.now();
        private final AtomicLong ids = new AtomicLong();
        private final Map<Long, CompletableFuture<Acceptance>> pending = new ConcurrentHashMap<>();
        private volatile @Nullable Session session;

        Agent(String tenant, String agentId, Link link) {
            this.tenant = tenant;
            this.agentId = agentId;
            this.link = link;
        }

        @Override
        public CompletionStage<Acceptance> onDispatch(Dispatch dispatch) {
            long id = ids.incrementAndGet();
            CompletableFuture<Acceptance> answer = new CompletableFuture<>();
            pending.put(id, answer);
            // No dispatch waits longer than the longest timeout a caller may ask for: past it, an
            // unacknowledged config is answered and forgotten rather than kept for the socket's life.
            answer.completeOnTimeout(
                    Acceptance.reject("TIMEOUT: agent '" + agentId + "' did not acknowledge config " + id + " within "
                            + unacknowledgedExpiry.toMillis() + " ms"),
                    unacknowledgedExpiry.toMillis(),
                    TimeUnit.MILLISECONDS);
            // The dispatcher hears the answer only after the config was forgotten: dependents of one future run
            // last-registered first, so a second whenComplete on answer could run before the removal.
            CompletableFuture<Acceptance> forgotten = answer.whenComplete((a, e) -> pending.remove(id));
            String config = new String(dispatch.payload(), StandardCharsets.UTF_8);
            link.send("{\"type\":\"config\",\"id\":" + id + ",\"from\":\"" + dispatch.from() + "\",\"config\":" + config
                    + "}");
            return forgotten;
        }

        /** A frame from the agent: an acknowledgement or a refusal of config {@code id}. */
        public void received(String frame, Consumer<String> badFrame) {
            JsonNode node;
            try {
                node = json.readTree(frame);
            } catch (JsonProcessingException e) {
                badFrame.accept("frames must be JSON: {\"type\":\"ack\",\"id\":n}");
                return;
            }
            String type = node == null ? "" : node.path("type").asText();
            long id = node == null ? 0 : node.path("id").asLong();
            CompletableFuture<Acceptance> answer = pending.get(id);
            switch (type) {
                case "ack" -> {
                    if (answer != null) {
                        answer.complete(Acceptance.accept());
                    }
                }
                case "nack" -> {
                    if (answer != null) {
                        answer.complete(Acceptance.reject(node.path("reason").asText("refused by the agent")));
                    }
                }
                case "ping" -> link.send("{\"type\":\"pong\"}");
                default -> badFrame.accept("unknown frame type '" + type + "': send ack, nack or ping");
            }
        }

        /** The agent's socket closed: end its session here, releasing the lease. */
        public void disconnected() {
            Session current = session;
            if (current != null) {
                local.remove(current.id(), this);
                current.close();
            }
        }

        @Override
        public void onEnded(Session ended, Session.EndReason why, String reason) {
            local.remove(ended.id(), this);
            pending.values().forEach(p -> p.complete(Acceptance.reject("session ended: " + reason)));
            switch (why) {
                case SUPERSEDED -> link.close(4000, "superseded: the agent connected elsewhere");
                case LEASE_LOST -> link.close(1011, "session lease lost; reconnect");
                case DRAINED -> link.close(1012, "ServiceShuttingDown; reconnect");
                case CLOSED -> LOG.debug("Agent {} session closed", agentId);
            }
        }

        public String agentId() {
            return agentId;
        }

        /** Configs sent and not yet acknowledged, refused or expired. */
        int pending() {
            return pending.size();
        }
    }
}

package dev.chorus.server.http;

import dev.chorus.server.agents.AgentSessions;
import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.Principal;
import dev.chorus.server.auth.Roles;
import dev.chorus.server.auth.Tokens;
import io.javalin.http.Context;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeRequest;
import org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeResponse;
import org.eclipse.jetty.websocket.api.Session;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /ws/agents?agentId=…}: an agent's socket. Connecting claims the agent's session on this replica
 * (fencing out any older connection anywhere); the server then sends {@code {"type":"connected"}}, later
 * {@code {"type":"config","id":n,"config":{…}}} frames, each of which the agent answers with
 * {@code {"type":"ack","id":n}} or {@code {"type":"nack","id":n,"reason":"…"}}.
 */
final class AgentSocket {

    private static final Logger LOG = LoggerFactory.getLogger(AgentSocket.class);
    /** Frames queued for an agent before it counts as not reading. */
    static final int MAX_QUEUED_FRAMES = 64;

    private final AgentSessions agents;
    private final Bearer bearer;
    private final Clients clients;
    private final SocketWatch watch;
    private final SocketOptions options;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();

    AgentSocket(AgentSessions agents, Bearer bearer, Clients clients, SocketWatch watch, SocketOptions options) {
        this.agents = agents;
        this.bearer = bearer;
        this.clients = clients;
        this.watch = watch;
        this.options = options;
    }

    /**
     * Refuses the upgrade unless the token is valid (401), the agent id well-formed (400), and the client
     * holds the {@code agent} role and may be that agent (403): a reader's or writer's token cannot take over
     * an agent's session, receive its configs or acknowledge them.
     */
    void beforeUpgrade(Context ctx) {
        Principal principal = bearer.require(ctx, ctx.queryParam("access_token"));
        String agentId = agentId(ctx.queryParam("agentId"));
        Problem refused = refusal(principal, agentId);
        if (refused == null) {
            refused = Sockets.refusedOrigin(ctx.header("Origin"), ctx.header("Host"), options);
        }
        if (refused != null) {
            throw refused;
        }
    }

    private @Nullable Problem refusal(Principal principal, String agentId) {
        if (!principal.roles().contains(Roles.AGENT)) {
            return Problem.of(
                    403,
                    "Forbidden",
                    "client '" + principal.clientId() + "' needs the role '" + Roles.AGENT
                            + "' to connect as an agent");
        }
        if (!clients.mayBeAgent(principal.clientId(), agentId)) {
            return Problem.of(
                    403,
                    "Forbidden",
                    "client '" + principal.clientId() + "' may not connect as agent '" + agentId
                            + "'; its 'agents' patterns (or, without any, its user) must name it");
        }
        return null;
    }

    /** Sockets open here, claimed or still claiming. */
    int size() {
        return connections.size();
    }

    /** Closes every socket that has not claimed its session yet; claimed ones are closed by their sessions. */
    void closeUnclaimed(int code, String reason) {
        for (Connection connection : List.copyOf(connections)) {
            if (connection.agent == null) {
                connection.close(code, reason);
            }
        }
    }

    private static String agentId(@Nullable String value) {
        if (value == null || !AgentSessions.AGENT_ID.matcher(value).matches()) {
            throw Problem.badField(
                    "agentId", "connect with ?agentId=<id> matching " + AgentSessions.AGENT_ID.pattern());
        }
        return value;
    }

    /** The socket of an upgrade that {@link #beforeUpgrade} let through, or null after answering 401 or 400. */
    @Nullable
    Object create(JettyServerUpgradeRequest request, JettyServerUpgradeResponse response) throws Exception {
        Tokens.Grant grant = Sockets.grant(bearer, request, response);
        if (grant == null) {
            return null;
        }
        Principal principal = grant.principal();
        String agentId;
        try {
            agentId = agentId(Sockets.query(request, "agentId"));
        } catch (Problem e) {
            response.sendError(400, e.getMessage());
            return null;
        }
        Problem refused = refusal(principal, agentId);
        if (refused == null) {
            refused = Sockets.refusedOrigin(request.getHeader("Origin"), request.getHeader("Host"), options);
        }
        if (refused != null) {
            response.sendError(403, refused.getMessage());
            return null;
        }
        Sockets.negotiate(response, options);
        Sockets.forgetUpgradeAttributes(request);
        return new Connection(grant, agentId);
    }

    /** One agent's socket: claims the agent's session when it opens, gives it back however it ends. */
    // Public for Jetty's public method-handle lookup (see LiveSocket); created only here.
    public final class Connection extends LiveSocket implements AgentSessions.Link {

        private final String agentId;
        private volatile AgentSessions.@Nullable Agent agent;
        private volatile boolean ended;

        Connection(Tokens.Grant grant, String agentId) {
            super(watch, grant);
            this.agentId = agentId;
        }

        @Override
        void opened(Session session) {
            // Backpressure: configs an agent does not read pile up in Jetty's queue, up to this many frames;
            // the next send fails and closes the socket, as a slow events client is closed.
            session.setMaxOutgoingFrames(MAX_QUEUED_FRAMES);
            connections.add(this);
            agents.connect(principal.tenant(), agentId, this).whenComplete((claimed, error) -> {
                if (error != null) {
                    LOG.info("Agent {} could not claim its session: {}", agentId, error.toString());
                    close(1013, "could not claim the session: " + error.getMessage() + "; retry");
                    return;
                }
                agent = claimed;
                if (ended) {
                    // The socket ended while the claim was in flight: give the session back.
                    claimed.disconnected();
                    return;
                }
                send("{\"type\":\"connected\",\"agentId\":\"" + agentId + "\"}");
            });
        }

        @Override
        void text(String message) {
            AgentSessions.Agent current = agent;
            if (current != null) {
                current.received(message, reason -> close(POLICY_VIOLATION, reason));
            }
        }

        @Override
        void released() {
            ended = true;
            connections.remove(this);
            AgentSessions.Agent current = agent;
            if (current != null) {
                current.disconnected();
            }
        }

        @Override
        public void send(String frame) {
            sendAsync(
                    frame,
                    failure -> close(
                            EventSocket.TRY_AGAIN_LATER,
                            "the agent did not read: " + MAX_QUEUED_FRAMES + " frames waiting; reconnect"));
        }
    }
}

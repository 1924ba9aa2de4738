package dev.chorus.server.http;

import dev.chorus.server.agents.AgentSessions;
import dev.chorus.server.auth.Principal;
import io.javalin.http.Context;
import io.javalin.websocket.WsConfig;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
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

    private final AgentSessions agents;
    private final Bearer bearer;
    private final Map<String, AgentSessions.Agent> bySocket = new ConcurrentHashMap<>();

    AgentSocket(AgentSessions agents, Bearer bearer) {
        this.agents = agents;
        this.bearer = bearer;
    }

    void beforeUpgrade(Context ctx) {
        bearer.require(ctx, ctx.queryParam("access_token"));
        agentId(ctx.queryParam("agentId"));
    }

    private static String agentId(String value) {
        if (value == null || !AgentSessions.AGENT_ID.matcher(value).matches()) {
            throw Problem.badField(
                    "agentId", "connect with ?agentId=<id> matching " + AgentSessions.AGENT_ID.pattern());
        }
        return value;
    }

    void configure(WsConfig ws) {
        ws.onConnect(ctx -> {
            Principal principal;
            String agentId;
            try {
                principal = bearer.verify(ctx.header("Authorization"), ctx.queryParam("access_token"));
                agentId = agentId(ctx.queryParam("agentId"));
            } catch (Problem e) {
                ctx.closeSession(EventSocket.POLICY_VIOLATION, EventSocket.abbreviate(e.getMessage()));
                return;
            }
            Session session = ctx.session;
            String socketId = ctx.sessionId();
            AgentSessions.Link link = new AgentSessions.Link() {
                @Override
                public void send(String frame) {
                    if (session.isOpen()) {
                        session.sendText(frame, Callback.NOOP);
                    }
                }

                @Override
                public void close(int code, String reason) {
                    session.close(code, EventSocket.abbreviate(reason), Callback.NOOP);
                }
            };
            agents.connect(principal.tenant(), agentId, link).whenComplete((agent, error) -> {
                if (error != null) {
                    LOG.info("Agent {} could not claim its session: {}", agentId, error.toString());
                    link.close(1013, "could not claim the session: " + error.getMessage() + "; retry");
                    return;
                }
                bySocket.put(socketId, agent);
                if (!session.isOpen()) {
                    // The socket closed while the claim was in flight: give the session back.
                    bySocket.remove(socketId);
                    agent.disconnected();
                    return;
                }
                link.send("{\"type\":\"connected\",\"agentId\":\"" + agentId + "\"}");
            });
        });
        ws.onMessage(ctx -> {
            AgentSessions.Agent agent = bySocket.get(ctx.sessionId());
            if (agent != null) {
                agent.received(ctx.message(), reason -> ctx.closeSession(EventSocket.POLICY_VIOLATION, reason));
            }
        });
        ws.onBinaryMessage(ctx ->
                ctx.closeSession(EventSocket.UNSUPPORTED_DATA, "binary frames are not accepted; send JSON text"));
        ws.onClose(ctx -> disconnected(ctx.sessionId()));
        ws.onError(ctx -> disconnected(ctx.sessionId()));
    }

    private void disconnected(String socketId) {
        AgentSessions.Agent agent = bySocket.remove(socketId);
        if (agent != null) {
            agent.disconnected();
        }
    }
}

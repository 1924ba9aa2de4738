package dev.chorus.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.ChorusConfig;
import dev.chorus.server.agents.AgentSessions;
import dev.chorus.server.auth.Principal;
import dev.chorus.sessions.DispatchResult;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.ee10.websocket.server.JettyWebSocketServletFactory;
import org.jspecify.annotations.Nullable;

/**
 * Agents: {@code /ws/agents} is the socket an agent holds its session on ({@link AgentSocket}), {@code GET
 * /api/agents} lists the tenant's agents on every replica, and {@code PUT /api/agents/{id}/config} dispatches a
 * config to one agent wherever its session lives and answers with the outcome.
 */
final class AgentRoutes {

    /** How long a config dispatch waits for the agent's acknowledgement. */
    static final Duration DISPATCH_TIMEOUT = Duration.ofSeconds(10);

    private static final Duration MIN_TIMEOUT = Duration.ofMillis(100);
    private static final Duration MAX_TIMEOUT = Duration.ofSeconds(60);
    private static final String SOCKET = "/ws/agents";

    private final Bearer bearer;
    private final ObjectMapper json;
    private final AgentSessions agents;
    private final AgentSocket socket;

    AgentRoutes(Bearer bearer, ObjectMapper json, AgentSessions agents, AgentSocket socket) {
        this.bearer = bearer;
        this.json = json;
        this.agents = agents;
        this.socket = socket;
    }

    void register(RoutesConfig routes) {
        routes.get("/api/agents", this::list);
        routes.put("/api/agents/{id}/config", this::configure);
        routes.wsBeforeUpgrade(SOCKET, socket::beforeUpgrade);
        routes.ws(SOCKET, ws -> {});
    }

    /** Hands the upgrades {@link AgentSocket#beforeUpgrade} let through to the socket. */
    void mapSocket(JettyWebSocketServletFactory factory) {
        factory.addMapping(SOCKET, socket::create);
    }

    private void list(Context ctx) throws Exception {
        Principal principal = bearer.require(ctx, null);
        ctx.json(agents.list(principal.tenant(), ClusterRoutes.GATHER_TIMEOUT)
                .get(ClusterRoutes.GATHER_TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS));
    }

    private void configure(Context ctx) throws Exception {
        Principal principal = bearer.requireRole(ctx, HttpApi.WRITER);
        String agentId = ctx.pathParam("id");
        if (!AgentSessions.AGENT_ID.matcher(agentId).matches()) {
            throw Problem.badField("id", "agent id must match " + AgentSessions.AGENT_ID.pattern());
        }
        byte[] body = ctx.bodyAsBytes();
        try {
            JsonNode config = json.readTree(body);
            if (config == null || !config.isObject()) {
                throw Problem.badField("body", "a config is a JSON object ({...})");
            }
        } catch (JsonProcessingException e) {
            throw Problem.badField("body", "the body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Duration timeout = timeout(ctx.queryParam("timeout"));
        DispatchResult result;
        try {
            result = agents.dispatch(principal.tenant(), agentId, body, timeout)
                    .toCompletableFuture()
                    .get(timeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw Problem.of(504, "Gateway timeout", "no outcome for the dispatch in time");
        } catch (ExecutionException e) {
            throw Problem.of(502, "Dispatch failed", String.valueOf(e.getCause()));
        }
        Map<String, Object> outcome = new LinkedHashMap<>();
        outcome.put("outcome", result.outcome().name());
        outcome.put(
                "replica", result.replica() == null ? null : result.replica().toString());
        outcome.put("roundTripMillis", result.roundTrip().toNanos() / 1e6);
        outcome.put("reason", result.reason());
        int status = switch (result.outcome()) {
            case DELIVERED -> 200;
            case NO_LIVE_SESSION -> 404;
            case OWNER_DRAINING -> 503;
            case TIMEOUT -> 504;
            case REJECTED -> 409;
        };
        if (status == 200) {
            ctx.json(outcome);
            return;
        }
        Problem problem = Problem.of(status, result.outcome().name(), result.reason());
        outcome.forEach(problem::with);
        if (status == 503) {
            problem.header("Retry-After", "1");
        }
        throw problem;
    }

    private static Duration timeout(@Nullable String value) {
        if (value == null) {
            return DISPATCH_TIMEOUT;
        }
        Duration parsed = ChorusConfig.parseDuration(value);
        if (parsed == null || parsed.compareTo(MIN_TIMEOUT) < 0 || parsed.compareTo(MAX_TIMEOUT) > 0) {
            throw Problem.badField(
                    "timeout",
                    "timeout='" + value + "' must be a duration from 100ms to 60s, such" + " as 2s or 500ms");
        }
        return parsed;
    }
}

package dev.chorus.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.ChorusConfig;
import dev.chorus.backplane.Backplane;
import dev.chorus.cluster.CallResult;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.health.Health;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.server.agents.AgentSessions;
import dev.chorus.server.auth.Principal;
import dev.chorus.server.auth.Roles;
import dev.chorus.sessions.DispatchResult;
import dev.chorus.sessions.Sessions;
import dev.chorus.verify.ClusterVerifier;
import dev.chorus.verify.VerifyReport;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * The routes that only make sense with several replicas: agents and dispatch ({@code /api/agents}), the
 * cluster view ({@code /api/cluster}) and the automatic cluster check ({@code /api/cluster/verify}).
 */
final class ClusterRoutes {

    /** How long a config dispatch waits for the agent's acknowledgement. */
    static final Duration DISPATCH_TIMEOUT = Duration.ofSeconds(10);
    /** How long cluster-wide listings wait for every replica. */
    static final Duration GATHER_TIMEOUT = Duration.ofSeconds(3);

    private static final Duration MIN_TIMEOUT = Duration.ofMillis(100);
    private static final Duration MAX_TIMEOUT = Duration.ofSeconds(60);
    private static final String SESSIONS_CALL = "chorus.server.sessions";

    private final Bearer bearer;
    private final ObjectMapper json;
    private final AgentSessions agents;
    private final Sessions sessions;
    private final ClusterCalls calls;
    private final ClusterVerifier verifier;
    private final Membership membership;
    private final Backplane backplane;

    ClusterRoutes(
            Bearer bearer,
            ObjectMapper json,
            AgentSessions agents,
            Sessions sessions,
            ClusterCalls calls,
            ClusterVerifier verifier,
            Membership membership,
            Backplane backplane) {
        this.bearer = bearer;
        this.json = json;
        this.agents = agents;
        this.sessions = sessions;
        this.calls = calls;
        this.verifier = verifier;
        this.membership = membership;
        this.backplane = backplane;
        calls.serve(
                SESSIONS_CALL,
                request -> Integer.toString(sessions.localCount()).getBytes(StandardCharsets.UTF_8));
    }

    void listAgents(Context ctx) throws Exception {
        Principal principal = bearer.require(ctx, null);
        ctx.json(agents.list(principal.tenant(), GATHER_TIMEOUT)
                .get(GATHER_TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS));
    }

    void configureAgent(Context ctx) throws Exception {
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

    void cluster(Context ctx) throws Exception {
        Principal principal = bearer.require(ctx, null);
        Health bp = backplane.health();
        if (!principal.roles().contains(Roles.OPERATOR)) {
            // Replica ids, hosts, versions and key fingerprints are the operator's: a tenant sees the summary.
            ctx.json(Map.of(
                    "live", membership.liveCount(),
                    "backplane", Map.of("status", bp.status().name()),
                    "details", "the members' details need the role '" + Roles.OPERATOR + "'"));
            return;
        }
        List<CallResult> counts = calls.askAll(SESSIONS_CALL, new byte[0], GATHER_TIMEOUT)
                .get(GATHER_TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS);
        Map<String, Object> sessionsByReplica = new LinkedHashMap<>();
        for (CallResult result : counts) {
            sessionsByReplica.put(
                    result.replica().toString(),
                    result.ok()
                            ? Integer.parseInt(new String(result.reply(), StandardCharsets.UTF_8))
                            : "no answer: " + result.error());
        }
        List<Map<String, Object>> members = new ArrayList<>();
        for (Member member : membership.members()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", member.id().toString());
            m.put("version", member.version());
            m.put("started", member.started().toString());
            m.put("lastHeartbeat", member.lastHeartbeat().toString());
            m.put("self", member.id().equals(membership.self().id()));
            m.put("attributes", member.attributes());
            m.put("sessions", sessionsByReplica.get(member.id().toString()));
            members.add(m);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("self", membership.self().id().toString());
        body.put(
                "backplane",
                Map.of("backend", backplane.backend(), "status", bp.status().name(), "reason", bp.reason()));
        body.put("live", members.size());
        body.put("members", members);
        ctx.json(body);
    }

    void verify(Context ctx) {
        bearer.requireRole(ctx, Roles.OPERATOR);
        VerifyReport report = verifier.verify(GATHER_TIMEOUT);
        List<Map<String, Object>> checks = new ArrayList<>();
        for (VerifyReport.Check check : report.checks()) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("name", check.name());
            c.put("passed", check.passed());
            c.put("detail", check.detail());
            c.put("data", check.data());
            checks.add(c);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("passed", report.passed());
        body.put("at", report.at().toString());
        body.put("checks", checks);
        ctx.json(body);
    }
}

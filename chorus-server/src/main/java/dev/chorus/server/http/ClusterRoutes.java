package dev.chorus.server.http;

import dev.chorus.backplane.Backplane;
import dev.chorus.cluster.CallResult;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.health.Health;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.server.auth.Principal;
import dev.chorus.server.auth.Roles;
import dev.chorus.sessions.Sessions;
import dev.chorus.verify.ClusterVerifier;
import dev.chorus.verify.VerifyReport;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The cluster's own routes: the cluster view ({@code /api/cluster}: a summary for tenants, the members and their
 * sessions for operators) and the automatic cluster check ({@code /api/cluster/verify}).
 */
final class ClusterRoutes {

    /** How long cluster-wide listings wait for every replica. */
    static final Duration GATHER_TIMEOUT = Duration.ofSeconds(3);

    private static final String SESSIONS_CALL = "chorus.server.sessions";

    private final Bearer bearer;
    private final ClusterCalls calls;
    private final ClusterVerifier verifier;
    private final Membership membership;
    private final Backplane backplane;

    ClusterRoutes(
            Bearer bearer,
            Sessions sessions,
            ClusterCalls calls,
            ClusterVerifier verifier,
            Membership membership,
            Backplane backplane) {
        this.bearer = bearer;
        this.calls = calls;
        this.verifier = verifier;
        this.membership = membership;
        this.backplane = backplane;
        calls.serve(
                SESSIONS_CALL,
                request -> Integer.toString(sessions.localCount()).getBytes(StandardCharsets.UTF_8));
    }

    void register(RoutesConfig routes) {
        routes.get("/api/cluster", this::cluster);
        routes.get("/api/cluster/verify", this::verify);
    }

    private void cluster(Context ctx) throws Exception {
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

    private void verify(Context ctx) {
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

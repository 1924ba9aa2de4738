package dev.chorus.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.registry.ReplicaStatus;
import dev.chorus.registry.ResourceStatus;
import dev.chorus.server.auth.Principal;
import dev.chorus.server.auth.Roles;
import dev.chorus.server.destinations.DeliveryFailure;
import dev.chorus.server.destinations.Destination;
import dev.chorus.server.destinations.Destinations;
import dev.chorus.server.destinations.WebhookSettings;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * {@code /api/destinations}: webhook destinations of the caller's tenant, and their senders' status on this
 * replica or, with {@code ?scope=cluster}, on every replica (those that did not answer are marked). The
 * signing secret is in the answer to the create only; a sender's last error shows tenants its class only
 * ({@link DeliveryFailure}), operators the detail too.
 */
final class DestinationRoutes {

    private static final Duration STATUS_TIMEOUT = Duration.ofSeconds(3);

    private final Bearer bearer;
    private final ObjectMapper json;
    private final Destinations destinations;

    DestinationRoutes(Bearer bearer, ObjectMapper json, Destinations destinations) {
        this.bearer = bearer;
        this.json = json;
        this.destinations = destinations;
    }

    void register(RoutesConfig routes) {
        routes.post("/api/destinations", this::create);
        routes.get("/api/destinations", this::list);
        routes.get("/api/destinations/{id}", this::get);
        routes.delete("/api/destinations/{id}", this::delete);
        routes.get("/api/destinations/{id}/$status", this::status);
    }

    private void create(Context ctx) {
        Principal principal = bearer.requireRole(ctx, HttpApi.WRITER);
        JsonNode body;
        try {
            body = json.readTree(ctx.bodyAsBytes());
        } catch (JsonProcessingException e) {
            throw Problem.badField("body", "the body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (body == null || !body.isObject()) {
            throw Problem.badField(
                    "body",
                    "a destination is a JSON object: {\"url\": \"https://…\", \"events\": [\"resource.changed\"]}");
        }
        JsonNode url = body.get("url");
        if (url == null || !url.isTextual()) {
            throw Problem.badField("/url", "'url' is required: the http(s) URL events are POSTed to");
        }
        List<String> events = new ArrayList<>();
        JsonNode types = body.get("events");
        if (types != null && !types.isNull()) {
            if (!types.isArray() || types.size() > Destination.MAX_EVENTS) {
                throw Problem.badField(
                        "/events",
                        "'events' must be an array of at most " + Destination.MAX_EVENTS
                                + " event types, or absent for all");
            }
            for (JsonNode type : types) {
                if (!type.isTextual()
                        || type.textValue().isBlank()
                        || type.textValue().length() > 200) {
                    throw Problem.badField(
                            "/events", "every entry of 'events' must be a non-empty string of at most 200 characters");
                }
                events.add(type.textValue());
            }
        }
        Destinations.Created created;
        try {
            created = destinations.create(principal.tenant(), url.textValue(), events);
        } catch (IllegalArgumentException e) {
            throw Problem.badField("/url", e.getMessage());
        } catch (Destinations.LimitReachedException e) {
            throw Problem.of(409, "Too many destinations", e.getMessage())
                    .with("limit", e.limit())
                    .with("setting", WebhookSettings.MAX_PER_TENANT);
        } catch (IllegalStateException e) {
            throw Problem.of(400, "Invalid request", e.getMessage());
        }
        Map<String, Object> answer = describe(created.id(), created.destination());
        // The one time the secret is shown: receivers need it to verify signatures, and no GET returns it.
        answer.put("secret", created.destination().secret());
        ctx.status(201).header("Location", "/api/destinations/" + created.id()).json(answer);
    }

    private void list(Context ctx) {
        Principal principal = bearer.require(ctx, null);
        List<Map<String, Object>> list = new ArrayList<>();
        for (String id : destinations.ids(principal.tenant())) {
            destinations.get(principal.tenant(), id).ifPresent(d -> list.add(describe(id, d)));
        }
        ctx.json(Map.of("destinations", list));
    }

    private void get(Context ctx) {
        Principal principal = bearer.require(ctx, null);
        String id = ctx.pathParam("id");
        Destination destination = destinations.get(principal.tenant(), id).orElseThrow(() -> notFound(id));
        ctx.json(describe(id, destination));
    }

    private void delete(Context ctx) {
        Principal principal = bearer.requireRole(ctx, HttpApi.WRITER);
        String id = ctx.pathParam("id");
        if (!destinations.delete(principal.tenant(), id)) {
            throw notFound(id);
        }
        ctx.status(204);
    }

    private void status(Context ctx) throws Exception {
        Principal principal = bearer.require(ctx, null);
        String id = ctx.pathParam("id");
        destinations.get(principal.tenant(), id).orElseThrow(() -> notFound(id));
        boolean operator = principal.roles().contains(Roles.OPERATOR);
        String scope = ctx.queryParam("scope");
        if (scope == null || scope.equals("replica")) {
            ResourceStatus status = destinations.status(principal.tenant(), id).orElseThrow(() -> notFound(id));
            ctx.json(describe(status, operator));
            return;
        }
        if (!scope.equals("cluster")) {
            throw Problem.badField("scope", "scope must be 'replica' (the default) or 'cluster', not '" + scope + "'");
        }
        String statusId = Destinations.statusId(principal.tenant(), id);
        List<ReplicaStatus> replicas =
                destinations.clusterStatus(STATUS_TIMEOUT).get(STATUS_TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (ReplicaStatus replica : replicas) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("replica", replica.replica().toString());
            row.put("answered", replica.answered());
            if (!replica.answered()) {
                row.put("error", replica.error());
            } else {
                ResourceStatus status = replica.resources().stream()
                        .filter(r -> r.id().equals(statusId))
                        .findFirst()
                        .orElse(null);
                row.put("status", status == null ? null : describe(status, operator));
            }
            rows.add(row);
        }
        ctx.json(Map.of("id", id, "replicas", rows));
    }

    private static Map<String, Object> describe(String id, Destination destination) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", id);
        body.put("url", destination.url());
        body.put("events", destination.events());
        return body;
    }

    private static Map<String, Object> describe(@Nullable ResourceStatus status, boolean operator) {
        Map<String, Object> body = new LinkedHashMap<>();
        if (status == null) {
            return body;
        }
        body.put("version", status.version());
        body.put("built", status.built());
        if (status.buildError() != null) {
            body.put("buildError", status.buildError());
        }
        body.put("counters", status.counters());
        if (status.lastError() != null) {
            // The detail (addresses, ports, socket errors) would let a tenant scan the network behind us.
            body.put("lastError", operator ? status.lastError() : DeliveryFailure.forTenant(status.lastError()));
        }
        return body;
    }

    private static Problem notFound(String id) {
        return Problem.of(404, "Not found", "no destination '" + id + "' in your tenant");
    }
}

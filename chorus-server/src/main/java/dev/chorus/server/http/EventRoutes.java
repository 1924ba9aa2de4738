package dev.chorus.server.http;

import static dev.chorus.server.http.Problem.abbreviate;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.events.Event;
import dev.chorus.events.EventHub;
import dev.chorus.server.auth.Principal;
import dev.chorus.server.auth.Roles;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jetty.ee10.websocket.server.JettyWebSocketServletFactory;
import org.jspecify.annotations.Nullable;

/**
 * Events: {@code POST /api/events} sends one to everyone, a tenant or a user (the role needed grows with the
 * reach), and {@code /ws/events} is the socket that delivers them ({@link EventSocket}).
 */
final class EventRoutes {

    private static final String SOCKET = "/ws/events";

    private final Bearer bearer;
    private final ObjectMapper json;
    private final EventHub hub;
    private final EventSocket socket;
    private final BodyLimit bodies;

    EventRoutes(Bearer bearer, ObjectMapper json, EventHub hub, EventSocket socket, BodyLimit bodies) {
        this.bearer = bearer;
        this.json = json;
        this.hub = hub;
        this.socket = socket;
        this.bodies = bodies;
    }

    void register(RoutesConfig routes) {
        routes.post("/api/events", this::post);
        routes.wsBeforeUpgrade(SOCKET, socket::beforeUpgrade);
        routes.ws(SOCKET, ws -> {});
    }

    /** Hands the upgrades {@link EventSocket#beforeUpgrade} let through to the socket. */
    void mapSocket(JettyWebSocketServletFactory factory) {
        factory.addMapping(SOCKET, socket::create);
    }

    private void post(Context ctx) {
        Principal principal = bearer.require(ctx, null);
        JsonNode body = jsonBody(ctx);
        String type = text(body, "type", true);
        if (type.isEmpty() || type.length() > Event.MAX_TYPE_LENGTH) {
            throw Problem.badField(
                    "/type", "type is " + type.length() + " characters; it must be 1 to " + Event.MAX_TYPE_LENGTH);
        }
        for (String reserved : HttpApi.RESERVED_EVENT_PREFIXES) {
            if (type.startsWith(reserved)) {
                throw Problem.badField(
                        "/type",
                        "event types starting with " + HttpApi.RESERVED_EVENT_PREFIXES
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
        byte[] bytes = bodies.read(ctx);
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
}

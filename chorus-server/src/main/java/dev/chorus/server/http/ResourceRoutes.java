package dev.chorus.server.http;

import static dev.chorus.server.http.Problem.abbreviate;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.server.ResourceService;
import dev.chorus.server.auth.Principal;
import dev.chorus.server.store.Precondition;
import dev.chorus.server.store.Resource;
import dev.chorus.server.store.ResourceKey;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code /api/resources/{type}/{id}}: the JSON documents of the caller's tenant, read with {@code ETag} and
 * {@code If-None-Match}, written and deleted with {@code If-Match} / {@code If-None-Match: *} preconditions.
 */
final class ResourceRoutes {

    private static final Pattern ETAG = Pattern.compile("\"(\\d{1,18})\"");

    private final Bearer bearer;
    private final ObjectMapper json;
    private final ResourceService resources;
    private final BodyLimit bodies;

    ResourceRoutes(Bearer bearer, ObjectMapper json, ResourceService resources, BodyLimit bodies) {
        this.bearer = bearer;
        this.json = json;
        this.resources = resources;
        this.bodies = bodies;
    }

    void register(RoutesConfig routes) {
        routes.get("/api/resources/{type}/{id}", this::get);
        routes.put("/api/resources/{type}/{id}", this::put);
        routes.delete("/api/resources/{type}/{id}", this::delete);
    }

    private void get(Context ctx) {
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

    private void put(Context ctx) {
        Principal principal = bearer.requireRole(ctx, HttpApi.WRITER);
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
        byte[] body = bodies.read(ctx);
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

    private void delete(Context ctx) {
        Principal principal = bearer.requireRole(ctx, HttpApi.WRITER);
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

    private static Problem notFound(ResourceKey key) {
        return Problem.of(404, "Not found", "no resource " + key.type() + "/" + key.id() + " in your tenant");
    }
}

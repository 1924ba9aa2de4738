package dev.chorus.server.store;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Which resource: the tenant that owns it (from the caller's token, never from the request), its type and id.
 *
 * <p>Types are lower-case names ({@code [a-z][a-z0-9_-]{0,63}}); ids are URL-safe ({@code [A-Za-z0-9._~-]{1,128}}).
 * The constructor throws {@link IllegalArgumentException} naming the part that is wrong and the allowed form.
 */
public record ResourceKey(String tenant, String type, String id) {

    /** The allowed form of a type. */
    public static final Pattern TYPE = Pattern.compile("[a-z][a-z0-9_-]{0,63}");
    /** The allowed form of an id. */
    public static final Pattern ID = Pattern.compile("[A-Za-z0-9._~-]{1,128}");

    public ResourceKey {
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(id, "id");
        if (tenant.isBlank() || tenant.length() > 128) {
            throw new IllegalArgumentException("tenant must be 1 to 128 characters, got " + tenant.length());
        }
        if (!TYPE.matcher(type).matches()) {
            throw new IllegalArgumentException(
                    "type '" + abbreviate(type) + "' must match " + TYPE.pattern() + " (lower case, up to 64)");
        }
        if (!ID.matcher(id).matches()) {
            throw new IllegalArgumentException(
                    "id '" + abbreviate(id) + "' must match " + ID.pattern() + " (URL-safe, up to 128)");
        }
    }

    /** One string naming the resource, unique across tenants: the replicated cache's key. */
    public String cacheKey() {
        return tenant.length() + ":" + tenant + "/" + type + "/" + id;
    }

    private static String abbreviate(String value) {
        return value.length() <= 64 ? value : value.substring(0, 64) + "…";
    }
}

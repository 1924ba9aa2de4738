package dev.chorus.events;

import dev.chorus.ChorusException;
import java.util.Locale;
import java.util.Objects;

/**
 * Which sinks an event is for: everyone, one tenant's, or one user's or group's within a tenant. Tenant and
 * target are separate fields, on the wire too: no separator can make one tenant's user another's.
 */
record Audience(Kind kind, String tenant, String target) {

    enum Kind {
        BROADCAST,
        USER,
        GROUP,
        TENANT
    }

    static final Audience EVERYONE = new Audience(Kind.BROADCAST, "", "");

    Audience {
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(target, "target");
    }

    static Audience user(String tenant, String userId) {
        return new Audience(Kind.USER, Objects.requireNonNull(tenant, "tenant"), requireId("userId", userId));
    }

    static Audience group(String tenant, String groupId) {
        return new Audience(Kind.GROUP, Objects.requireNonNull(tenant, "tenant"), requireId("groupId", groupId));
    }

    static Audience tenant(String tenant) {
        return new Audience(Kind.TENANT, requireId("tenant", tenant), "");
    }

    /** The key of this audience's sinks in the hub's user or group index. */
    Scoped key() {
        return new Scoped(tenant, target);
    }

    private static String requireId(String name, String id) {
        if (Objects.requireNonNull(id, name).isBlank()) {
            throw new ChorusException(name + " must not be blank: name the tenant, user or group the event is for");
        }
        return id;
    }

    /** A user or group id within its tenant: the key of the hub's indexes, compared field by field. */
    record Scoped(String tenant, String id) {}

    @Override
    public String toString() {
        String in = tenant.isEmpty() ? "" : " of tenant " + tenant;
        return switch (kind) {
            case BROADCAST -> "everyone";
            case TENANT -> "tenant " + tenant;
            default -> kind.name().toLowerCase(Locale.ROOT) + " " + target + in;
        };
    }
}

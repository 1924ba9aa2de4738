package dev.chorus.events;

import dev.chorus.ChorusException;
import java.util.Objects;
import java.util.Set;

/**
 * Who a connected client is, as the server authenticated it: the only streams its sink receives are
 * broadcasts, its tenant's events, {@code toUser} events for {@code userId} and {@code toGroup} events for its
 * {@code groups}, the last three only within {@code tenant}. The hub never takes this from the client; the
 * server builds it from the authenticated principal.
 *
 * <p>User and group ids are unique only within a tenant: {@code alice} of tenant {@code acme} and {@code
 * alice} of {@code globex} are two users and never see each other's events. A single-tenant application
 * uses {@link #of}, whose tenant is {@link #NO_TENANT}.
 *
 * @param tenant the tenant the user belongs to; {@link #NO_TENANT} in a single-tenant application
 * @param userId the authenticated user; not blank
 * @param groups the organisations or rooms the user belongs to, within its tenant; none blank
 */
public record Identity(String tenant, String userId, Set<String> groups) {

    /** The tenant of {@link #of}: one unnamed tenant, for applications that have no tenants. */
    public static final String NO_TENANT = "";

    /** Validates and copies. */
    public Identity {
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(userId, "userId");
        if (userId.isBlank()) {
            throw new ChorusException("Identity userId must not be blank: take it from the authenticated principal");
        }
        groups = Set.copyOf(Objects.requireNonNull(groups, "groups"));
        for (String group : groups) {
            if (group.isBlank()) {
                throw new ChorusException("Identity of user '" + userId + "' has a blank group id: " + groups);
            }
        }
    }

    /** A user in the given groups, in an application without tenants. */
    public static Identity of(String userId, String... groups) {
        return new Identity(NO_TENANT, userId, Set.of(groups));
    }

    /** A user of {@code tenant} in the given groups of that tenant. */
    public static Identity inTenant(String tenant, String userId, String... groups) {
        if (Objects.requireNonNull(tenant, "tenant").isBlank()) {
            throw new ChorusException("Identity tenant must not be blank: take it from the authenticated principal");
        }
        return new Identity(tenant, userId, Set.of(groups));
    }

    boolean sees(Audience audience) {
        return switch (audience.kind()) {
            case BROADCAST -> true;
            case TENANT -> tenant.equals(audience.tenant());
            case USER -> tenant.equals(audience.tenant()) && userId.equals(audience.target());
            case GROUP -> tenant.equals(audience.tenant()) && groups.contains(audience.target());
        };
    }

    @Override
    public String toString() {
        return tenant.isEmpty() ? "user '" + userId + "'" : "user '" + userId + "' of tenant '" + tenant + "'";
    }
}

package dev.chorus.events;

import dev.chorus.ChorusException;
import java.util.Objects;
import java.util.Set;

/**
 * Who a connected client is, as the server authenticated it: the only streams its sink receives are
 * broadcasts, {@code toUser} events for {@code userId} and {@code toGroup} events for its {@code groups}.
 * The hub never takes this from the client; the server builds it from the authenticated principal.
 *
 * @param userId the authenticated user; not blank
 * @param groups the tenants, organisations or rooms the user belongs to; none blank
 */
public record Identity(String userId, Set<String> groups) {

    /** Validates and copies. */
    public Identity {
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

    /** A user in the given groups. */
    public static Identity of(String userId, String... groups) {
        return new Identity(userId, Set.of(groups));
    }

    boolean sees(Audience audience) {
        return switch (audience.kind()) {
            case BROADCAST -> true;
            case USER -> userId.equals(audience.target());
            case GROUP -> groups.contains(audience.target());
        };
    }
}

package dev.chorus.server.auth;

import java.util.Objects;
import java.util.Set;

/** Who a verified token speaks for: the client it was issued to, its user, tenant and roles. */
public record Principal(String clientId, String user, String tenant, Set<String> roles) {

    public Principal {
        Objects.requireNonNull(clientId, "clientId");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(tenant, "tenant");
        roles = Set.copyOf(roles);
    }
}

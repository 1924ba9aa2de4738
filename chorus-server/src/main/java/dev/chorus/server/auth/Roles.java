package dev.chorus.server.auth;

import java.util.Set;

/**
 * The roles a client may hold. {@link #READER}, {@link #WRITER} and {@link #ADMIN} act inside the client's
 * own tenant only; {@link #OPERATOR} is the one cluster-wide role; {@link #AGENT} lets a client connect as
 * the agents it is allowed to be.
 */
public final class Roles {

    /** Reads its tenant's resources and agents. */
    public static final String READER = "reader";
    /** Writes its tenant's resources, events to the tenant, destinations, agent configs. */
    public static final String WRITER = "writer";
    /** Sends events to any user of its own tenant. */
    public static final String ADMIN = "admin";
    /**
     * Cluster-wide: broadcasts to every tenant, sends to users of other tenants, sees the cluster's details,
     * runs verify. Give it to operators, never to a tenant's application.
     */
    public static final String OPERATOR = "operator";
    /** Connects to {@code /ws/agents} as the agents its client's {@code agents} patterns allow. */
    public static final String AGENT = "agent";

    /** Every role there is: a client configured with another is refused at start (a typo grants nothing). */
    public static final Set<String> ALL = Set.of(READER, WRITER, ADMIN, OPERATOR, AGENT);

    private Roles() {}
}

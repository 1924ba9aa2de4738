package dev.chorus.postgres;

import dev.chorus.ReplicaId;
import dev.chorus.testkit.ChildJvm;

/**
 * A replica in its own JVM for {@link PostgresMembershipProcessIT}: joins, prints {@code READY <uuid>}, and
 * leaves cleanly when it reads {@code close} on stdin (or stdin ends).
 *
 * <p>Arguments: JDBC URL, schema, cluster, replica name.
 */
public final class MembershipChildProcess {

    private MembershipChildProcess() {}

    /** Runs one member until told to close. */
    public static void main(String[] args) throws Exception {
        try (PostgresDatabase database =
                        PostgresDatabase.builder(args[0]).schema(args[1]).build();
                PostgresMembership membership = PostgresMembership.builder(database, ReplicaId.random(args[3]))
                        .cluster(args[2])
                        .heartbeatInterval(PostgresMembershipIT.INTERVAL)
                        .expiry(PostgresMembershipIT.EXPIRY)
                        .build()) {
            ChildJvm.ready(membership.self().id().uuid());
            ChildJvm.awaitClose();
        }
        ChildJvm.closed();
    }
}

package dev.chorus.postgres;

import dev.chorus.ReplicaId;
import dev.chorus.sessions.Sessions;
import dev.chorus.testkit.ChildJvm;
import dev.chorus.testkit.SessionsProcessKit;
import dev.chorus.testkit.TestSecrets;

/**
 * A session owner in its own JVM for {@link PostgresSessionsProcessIT}; see {@link
 * SessionsProcessKit#runOwner}.
 *
 * <p>Arguments: JDBC URL, schema, channel, replica name, session id.
 */
public final class SessionOwnerChild {

    private SessionOwnerChild() {}

    /** Runs one session owner until told to close. */
    public static void main(String[] args) throws Exception {
        ReplicaId self = ReplicaId.random(args[3]);
        try (PostgresDatabase database =
                        PostgresDatabase.builder(args[0]).schema(args[1]).build();
                PostgresBackplane backplane = PostgresBackplane.builder(database)
                        .replica(self)
                        .channel(args[2])
                        .secret(TestSecrets.SECRET)
                        .build();
                PostgresLeases leases =
                        PostgresLeases.builder(database, self).cluster(args[2]).build();
                PostgresMembership membership = PostgresMembership.builder(database, self)
                        .cluster(args[2])
                        .heartbeatInterval(SessionsProcessKit.HEARTBEAT)
                        .expiry(SessionsProcessKit.EXPIRY)
                        .build();
                Sessions sessions = Sessions.builder(backplane, leases)
                        .leaseTtl(SessionsProcessKit.TTL)
                        .membership(membership)
                        .build()) {
            SessionsProcessKit.runOwner(backplane, sessions, args[4]);
        }
        ChildJvm.closed();
    }
}

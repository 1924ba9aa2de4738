package dev.chorus.postgres;

import dev.chorus.ReplicaId;
import dev.chorus.sessions.Acceptance;
import dev.chorus.sessions.Dispatch;
import dev.chorus.sessions.Session;
import dev.chorus.sessions.SessionHandler;
import dev.chorus.sessions.Sessions;
import dev.chorus.testkit.ChildJvm;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * A replica in its own JVM for {@link PostgresSessionsProcessIT}: claims one session, prints {@code HANDLED
 * <token> <payload>} for every message it acts on and {@code ENDED <why>} when the session ends, and
 * closes when it reads {@code close} on stdin.
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
                        .build();
                PostgresLeases leases =
                        PostgresLeases.builder(database, self).cluster(args[2]).build();
                PostgresMembership membership = PostgresMembership.builder(database, self)
                        .cluster(args[2])
                        .heartbeatInterval(PostgresSessionsProcessIT.HEARTBEAT)
                        .expiry(PostgresSessionsProcessIT.EXPIRY)
                        .build();
                Sessions sessions = Sessions.builder(backplane, leases)
                        .leaseTtl(PostgresSessionsProcessIT.TTL)
                        .membership(membership)
                        .build()) {
            // Like a readiness probe: take no client before messages can reach this replica.
            org.awaitility.Awaitility.await()
                    .atMost(Duration.ofSeconds(30))
                    .until(() -> backplane.health().isHealthy());
            sessions.claim(args[4], new SessionHandler() {
                        @Override
                        public CompletionStage<Acceptance> onDispatch(Dispatch dispatch) {
                            print("HANDLED " + dispatch.token() + " "
                                    + new String(dispatch.payload(), StandardCharsets.UTF_8));
                            return CompletableFuture.completedFuture(Acceptance.accept());
                        }

                        @Override
                        public void onEnded(Session session, Session.EndReason why, String reason) {
                            print("ENDED " + why + " " + reason);
                        }
                    })
                    .get(30, TimeUnit.SECONDS);
            ChildJvm.ready(self.uuid());
            ChildJvm.awaitClose();
        }
        ChildJvm.closed();
    }

    private static synchronized void print(String line) {
        System.out.println(line);
        System.out.flush();
    }
}

package dev.chorus.redis;

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
 * A replica in its own JVM for {@link RedisSessionsProcessIT}: claims one session, prints {@code HANDLED
 * <token> <payload>} for every message it acts on and {@code ENDED <why>} when the session ends, and
 * closes when it reads {@code close} on stdin.
 *
 * <p>Arguments: Redis URL, key prefix, replica name, session id.
 */
public final class RedisSessionOwnerChild {

    private RedisSessionOwnerChild() {}

    /** Runs one session owner until told to close. */
    public static void main(String[] args) throws Exception {
        ReplicaId self = ReplicaId.random(args[2]);
        try (RedisConnector connector =
                        RedisConnector.builder(args[0]).prefix(args[1]).build();
                RedisBackplane backplane =
                        RedisBackplane.builder(connector).replica(self).build();
                RedisLeases leases = RedisLeases.builder(connector, self).build();
                RedisMembership membership = RedisMembership.builder(connector, self)
                        .heartbeatInterval(RedisSessionsProcessIT.HEARTBEAT)
                        .expiry(RedisSessionsProcessIT.EXPIRY)
                        .build();
                Sessions sessions = Sessions.builder(backplane, leases)
                        .leaseTtl(RedisSessionsProcessIT.TTL)
                        .membership(membership)
                        .build()) {
            // Like a readiness probe: take no client before messages can reach this replica.
            org.awaitility.Awaitility.await()
                    .atMost(Duration.ofSeconds(30))
                    .until(() -> backplane.health().isHealthy());
            sessions.claim(args[3], new SessionHandler() {
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

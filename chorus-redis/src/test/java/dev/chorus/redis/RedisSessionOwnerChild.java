package dev.chorus.redis;

import dev.chorus.ReplicaId;
import dev.chorus.sessions.Sessions;
import dev.chorus.testkit.ChildJvm;
import dev.chorus.testkit.SessionsProcessKit;
import dev.chorus.testkit.TestSecrets;

/**
 * A session owner in its own JVM for {@link RedisSessionsProcessIT}; see {@link SessionsProcessKit#runOwner}.
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
                RedisBackplane backplane = RedisBackplane.builder(connector)
                        .replica(self)
                        .secret(TestSecrets.SECRET)
                        .build();
                RedisLeases leases = RedisLeases.builder(connector, self).build();
                RedisMembership membership = RedisMembership.builder(connector, self)
                        .heartbeatInterval(SessionsProcessKit.HEARTBEAT)
                        .expiry(SessionsProcessKit.EXPIRY)
                        .build();
                Sessions sessions = Sessions.builder(backplane, leases)
                        .leaseTtl(SessionsProcessKit.TTL)
                        .membership(membership)
                        .build()) {
            SessionsProcessKit.runOwner(backplane, sessions, args[3]);
        }
        ChildJvm.closed();
    }
}

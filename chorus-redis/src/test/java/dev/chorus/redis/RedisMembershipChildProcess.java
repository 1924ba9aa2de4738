package dev.chorus.redis;

import dev.chorus.ReplicaId;
import dev.chorus.testkit.ChildJvm;

/**
 * A replica in its own JVM for {@link RedisMembershipProcessIT}: joins, prints {@code READY <uuid>}, and leaves
 * cleanly when it reads {@code close} on stdin (or stdin ends).
 *
 * <p>Arguments: Redis URL, key prefix, replica name.
 */
public final class RedisMembershipChildProcess {

    private RedisMembershipChildProcess() {}

    /** Runs one member until told to close. */
    public static void main(String[] args) throws Exception {
        try (RedisConnector connector =
                        RedisConnector.builder(args[0]).prefix(args[1]).build();
                RedisMembership membership = RedisMembership.builder(connector, ReplicaId.random(args[2]))
                        .heartbeatInterval(RedisMembershipIT.INTERVAL)
                        .expiry(RedisMembershipIT.EXPIRY)
                        .build()) {
            ChildJvm.ready(membership.self().id().uuid());
            ChildJvm.awaitClose();
        }
        ChildJvm.closed();
    }
}

package dev.chorus.redis;

import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.sessions.Sessions;
import dev.chorus.testkit.ChildJvm;
import dev.chorus.testkit.SessionsProcessKit;
import java.time.Duration;

/** A session owner in another JVM on Redis, killed with SIGKILL or paused with SIGSTOP past its lease. */
class RedisSessionsProcessIT extends SessionsProcessKit {

    private final RedisTestCluster cluster = new RedisTestCluster("s-process");

    @Override
    protected Sessions replica(String name) {
        ReplicaId id = ReplicaId.random(name);
        RedisConnector connector = cluster.connector();
        RedisBackplane backplane = cluster.replica(connector, name, b -> b.replica(id));
        RedisLeases leases = closeAfterTest(RedisLeases.builder(connector, id).build());
        RedisMembership membership = closeAfterTest(RedisMembership.builder(connector, id)
                .heartbeatInterval(HEARTBEAT)
                .expiry(EXPIRY)
                .build());
        Sessions sessions = closeAfterTest(Sessions.builder(backplane, leases)
                .leaseTtl(TTL)
                .membership(membership)
                .build());
        await().atMost(Duration.ofSeconds(30)).until(() -> backplane.health().isHealthy());
        return sessions;
    }

    @Override
    protected ChildJvm owner(String name, String sessionId) throws Exception {
        return ChildJvm.start(
                RedisSessionOwnerChild.class, name, cluster.server.uriWithPassword(), cluster.prefix, name, sessionId);
    }

    @Override
    protected void closeCluster() throws Exception {
        cluster.close();
    }
}

package dev.chorus.postgres;

import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.sessions.Sessions;
import dev.chorus.testkit.ChildJvm;
import dev.chorus.testkit.SessionsProcessKit;
import dev.chorus.testkit.TestPostgres;
import dev.chorus.testkit.TestSecrets;
import java.time.Duration;

/** A session owner in another JVM on PostgreSQL, killed with SIGKILL or paused with SIGSTOP past its lease. */
class PostgresSessionsProcessIT extends SessionsProcessKit {

    private final TestPostgres.Schema schema = TestPostgres.server().newSchema("sessions_process");
    private final String channel = schema.uniqueChannel("sp");

    @Override
    protected Sessions replica(String name) {
        ReplicaId id = ReplicaId.random(name);
        PostgresDatabase database = closeAfterTest(
                PostgresDatabase.builder(schema.jdbcUrl()).schema(schema.name()).build());
        PostgresBackplane backplane = closeAfterTest(PostgresBackplane.builder(database)
                .replica(id)
                .channel(channel)
                .secret(TestSecrets.SECRET)
                .build());
        PostgresLeases leases = closeAfterTest(
                PostgresLeases.builder(database, id).cluster(channel).build());
        PostgresMembership membership = closeAfterTest(PostgresMembership.builder(database, id)
                .cluster(channel)
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
        return ChildJvm.start(SessionOwnerChild.class, name, schema.jdbcUrl(), schema.name(), channel, name, sessionId);
    }

    @Override
    protected void closeCluster() {
        schema.close();
    }
}

package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.sessions.Sessions;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.verify.ClusterVerifier;
import dev.chorus.verify.VerifyReport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The cluster check on PostgreSQL: three replicas, then one whose connection freezes. */
class PostgresVerifyIT {

    private final PgTestCluster cluster = new PgTestCluster("verify");
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        cluster.close();
    }

    private record Node(ReplicaId id, ClusterVerifier verifier, FaultProxy proxy) {}

    private Node node(String name) {
        FaultProxy proxy = cluster.proxy();
        PostgresDatabase database = cluster.database(proxy.host(), proxy.port());
        PostgresBackplane backplane = cluster.replica(database, name, b -> b);
        ReplicaId id = backplane.replica();
        PostgresLeases leases =
                PostgresLeases.builder(database, id).cluster(cluster.channel).build();
        PostgresMembership membership = PostgresMembership.builder(database, id)
                .cluster(cluster.channel)
                .heartbeatInterval(Duration.ofMillis(200))
                .expiry(Duration.ofSeconds(30)) // the frozen replica stays listed: verify must name it
                .build();
        ClusterCalls calls = new ClusterCalls(backplane, membership);
        Sessions sessions =
                Sessions.builder(backplane, leases).membership(membership).build();
        ClusterVerifier verifier = new ClusterVerifier(membership, calls, sessions, OptionalInt.of(3));
        closeables.addAll(List.of(leases, membership, calls, sessions, verifier));
        await().atMost(Duration.ofSeconds(20)).until(() -> backplane.health().isHealthy());
        await().atMost(Duration.ofSeconds(20))
                .until(() -> sessions.local(ClusterVerifier.probeId(id)).isPresent());
        return new Node(id, verifier, proxy);
    }

    @Test
    void verifyPassesThenNamesAFrozenReplica() {
        Node a = node("a");
        node("b");
        Node c = node("c");
        await().atMost(Duration.ofSeconds(20))
                .until(() -> a.verifier().maxInstances().live() == 3);

        VerifyReport healthy = a.verifier().verify(Duration.ofSeconds(3));
        assertThat(healthy.passed()).as(healthy.toString()).isTrue();

        c.proxy().freeze();
        VerifyReport broken = a.verifier().verify(Duration.ofSeconds(1));

        assertThat(broken.passed()).isFalse();
        assertThat(broken.check("members").passed()).isTrue();
        assertThat(broken.check("backplane").detail()).contains(c.id().toString());
        assertThat(broken.check("dispatch").detail()).contains(c.id() + ": TIMEOUT");
        assertThat(broken.check("max-instances").passed()).isTrue();
        c.proxy().heal();
    }
}

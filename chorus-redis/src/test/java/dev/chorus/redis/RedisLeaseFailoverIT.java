package dev.chorus.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.leases.Lease;
import dev.chorus.leases.LeaseStoreException;
import dev.chorus.leases.Leases;
import dev.chorus.testkit.RespClient;
import dev.chorus.testkit.RespReply;
import dev.chorus.testkit.TestRedis;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 20, deliverable 8: fencing tokens that survive a failover. A primary and a replica {@code redis-server} on
 * loopback; a take is handed out only once the replica has it, and a replica promoted without the last takes still
 * issues larger tokens.
 */
class RedisLeaseFailoverIT {

    private static final Duration TTL = Duration.ofSeconds(30);

    private TestRedis.Embedded primary;
    private TestRedis.Embedded replica;
    private RedisTestCluster cluster;

    @BeforeEach
    void startPrimaryAndReplica() {
        primary = TestRedis.startEmbedded();
        replica = TestRedis.startEmbedded();
        send(replica, "REPLICAOF", primary.host(), Integer.toString(primary.port()));
        await().atMost(Duration.ofSeconds(30)).until(() -> info(replica).contains("master_link_status:up"));
        await().atMost(Duration.ofSeconds(30)).until(() -> info(primary).contains("connected_slaves:1"));
        cluster = new RedisTestCluster(primary, "lease-failover");
    }

    @AfterEach
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
        if (replica != null) {
            replica.close();
        }
        if (primary != null) {
            primary.close();
        }
    }

    @Test
    void take_withAConnectedReplica_isOnTheReplicaWhenHandedOut() {
        Leases leases = leasesOn(primary, "a");

        Lease lease = leases.tryAcquire("order-17", TTL).join().orElseThrow();

        // WAIT returned before the future completed: the replica has the take now, without waiting for it.
        assertThat(send(replica, "HGET", cluster.prefix + ":lease:order-17", "token"))
                .isEqualTo(Long.toString(lease.token()));
        assertThat(leases.toString()).contains("replicas=auto");
    }

    @Test
    void take_afterTheReplicaStopped_failsClearlyAndHandsOutNothing() {
        Leases leases = leasesOn(primary, "a");
        leases.tryAcquire("k1", TTL).join().orElseThrow();

        replica.stop();
        await().atMost(Duration.ofSeconds(10)).until(() -> info(primary).contains("connected_slaves:0"));

        // The first take runs into WAIT's timeout; the token it drew is not handed out.
        assertThatThrownBy(() -> leases.tryAcquire("k2", TTL).join())
                .isInstanceOf(CompletionException.class)
                .cause()
                .isInstanceOfSatisfying(LeaseStoreException.class, e -> {
                    assertThat(e.operation()).isEqualTo("tryAcquire");
                    assertThat(e.key()).isEqualTo("k2");
                })
                .hasMessageContaining("needs 1 replica (auto) to acknowledge the take of 'k2'")
                .hasMessageContaining("0 replica(s) acknowledged it within 1000 ms")
                .hasMessageContaining("CHORUS_REDIS_LEASE_REPLICAS=0");
        // Later takes fail at once, before drawing a token, while no replica is connected.
        String counter = send(primary, "GET", cluster.prefix + ":lease-tokens");
        assertThatThrownBy(() -> leases.claim("k3", TTL).join())
                .cause()
                .isInstanceOf(LeaseStoreException.class)
                .hasMessageContaining("no token was drawn: the primary has 0 connected replica(s)");
        assertThat(send(primary, "GET", cluster.prefix + ":lease-tokens")).isEqualTo(counter);
        assertThat(send(primary, "EXISTS", cluster.prefix + ":lease:k3")).isEqualTo("0");
        assertThat(((RedisLeases) leases).takesRefusedForReplicas()).isEqualTo(2);

        replica.start();
        send(replica, "REPLICAOF", primary.host(), Integer.toString(primary.port()));
        await().atMost(Duration.ofSeconds(30))
                .ignoreExceptions()
                .until(() -> leases.claim("k3", TTL).join().token() > 0);
    }

    @Test
    void take_whileTheReplicaIsFrozen_failsAfterTheReplicaTimeout() throws Exception {
        Leases leases = leasesOn(primary, "a");
        leases.tryAcquire("k1", TTL).join().orElseThrow();
        String pid = info(replica, "server")
                .lines()
                .filter(line -> line.startsWith("process_id:"))
                .map(line -> line.substring("process_id:".length()).strip())
                .findFirst()
                .orElseThrow();

        signal("STOP", pid);
        try {
            // Connected, so the primary still lists it, but it acknowledges nothing.
            assertThat(info(primary)).contains("connected_slaves:1");
            assertThatThrownBy(() -> leases.claim("k2", TTL).join())
                    .cause()
                    .isInstanceOf(LeaseStoreException.class)
                    .hasMessageContaining("0 replica(s) acknowledged it within 1000 ms");
        } finally {
            signal("CONT", pid);
        }
        assertThat(leases.claim("k2", TTL).join().token()).isPositive();
    }

    @Test
    void failover_toAReplicaThatMissedTheLastTake_issuesALargerToken() {
        Leases a = leasesOn(primary, "a");
        Lease first = a.tryAcquire("k", TTL).join().orElseThrow();
        assertThat(send(replica, "GET", cluster.prefix + ":lease-tokens")).isEqualTo(Long.toString(first.token()));

        // A partition: the replica stops following the primary and is promoted; the primary goes on taking.
        send(replica, "REPLICAOF", "NO", "ONE");
        await().atMost(Duration.ofSeconds(10)).until(() -> info(primary).contains("connected_slaves:0"));
        // A replica that never saw a replica (auto: 0) takes on the old primary: a take the new primary never gets.
        Leases late = leasesOn(primary, "late");
        Lease lost = late.claim("k", TTL).join();
        assertThat(lost.token()).isGreaterThan(first.token());

        // Clients follow the failover to the promoted replica, which does not know the last take.
        Leases b = leasesOn(replica, "b");
        Lease next = b.claim("k", TTL).join();

        assertThat(next.token())
                .as("a token issued after the failover must exceed every token issued before it")
                .isGreaterThan(lost.token());
    }

    @Test
    void claimAll_waitsForTheReplicaAndIssuesTokensAboveTheLostOnesAfterAFailover() {
        Leases a = leasesOn(primary, "a");
        List<Lease> first = a.claimAll(List.of("b1", "b2", "b3"), TTL).join();
        // Handed out only once the replica had the batch.
        assertThat(send(replica, "HGET", cluster.prefix + ":lease:b3", "token"))
                .isEqualTo(Long.toString(first.getLast().token()));

        send(replica, "REPLICAOF", "NO", "ONE");
        await().atMost(Duration.ofSeconds(10)).until(() -> info(primary).contains("connected_slaves:0"));
        // The batch WAIT now falls short: nothing of it is handed out.
        assertThatThrownBy(() -> a.claimAll(List.of("b1", "b2"), TTL).join())
                .cause()
                .isInstanceOf(LeaseStoreException.class)
                .hasMessageContaining("acknowledge");
        Leases late = leasesOn(primary, "late");
        List<Lease> lost = late.claimAll(List.of("b1", "b2", "b3"), TTL).join();

        List<Lease> next =
                leasesOn(replica, "b").claimAll(List.of("b1", "b2", "b3"), TTL).join();

        long largestLost = lost.stream().mapToLong(Lease::token).max().orElseThrow();
        assertThat(next)
                .as("batch tokens after the failover exceed every token issued before it")
                .allSatisfy(lease -> assertThat(lease.token()).isGreaterThan(largestLost));
    }

    private Leases leasesOn(TestRedis.Embedded server, String name) {
        RedisConnector connector = cluster.connector(server.host(), server.port(), cluster.prefix);
        RedisLeases leases =
                RedisLeases.builder(connector, ReplicaId.random(name)).build();
        cluster.closeLater(leases);
        return leases;
    }

    private static String info(TestRedis server) {
        return info(server, "replication");
    }

    private static String info(TestRedis server, String section) {
        return send(server, "INFO", section);
    }

    private static String send(TestRedis server, String... command) {
        try (RespClient client = server.client()) {
            RespReply reply = client.send(command);
            return reply instanceof RespReply.IntegerReply(long value)
                    ? Long.toString(value)
                    : reply.isNull() ? "" : reply.asString();
        }
    }

    private static void signal(String signal, String pid) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, pid).inheritIO().start();
        assertThat(kill.waitFor()).as("kill -%s %s", signal, pid).isZero();
    }
}

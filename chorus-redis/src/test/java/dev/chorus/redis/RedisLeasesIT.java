package dev.chorus.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.leases.Lease;
import dev.chorus.leases.LeaseOwner;
import dev.chorus.leases.LeaseStoreException;
import dev.chorus.leases.Leases;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.LeasesCompatibilityKit;
import dev.chorus.testkit.RespClient;
import dev.chorus.testkit.RespReply;
import dev.chorus.testkit.TestRedis;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Redis leases pass the leases compatibility kit, keep prefixes apart, survive lost scripts and data, and fail clearly. */
class RedisLeasesIT extends LeasesCompatibilityKit {

    private static final Duration TTL = Duration.ofSeconds(30);

    @Override
    protected LeaseStoreFixture newStore(String testName) {
        return new Store(new RedisTestCluster(hint("l-" + testName)));
    }

    /** The test's name, cut so the namespace stays within the connector's 48-character prefix. */
    static String hint(String name) {
        return name.length() <= 32 ? name : name.substring(0, 32);
    }

    /** One key prefix; every replica gets its own connector, as separate processes would. */
    static final class Store implements LeaseStoreFixture {
        final RedisTestCluster cluster;
        private final List<Leases> handedOut = new CopyOnWriteArrayList<>();

        Store(RedisTestCluster cluster) {
            this.cluster = cluster;
        }

        @Override
        public Leases leases(ReplicaId replica) {
            return leases(RedisLeases.builder(cluster.connector(), replica));
        }

        RedisLeases leases(RedisLeases.Builder builder) {
            RedisLeases leases = builder.build();
            handedOut.add(leases);
            return leases;
        }

        RespReply send(String... command) {
            try (RespClient client = cluster.server.client()) {
                return client.send(command);
            }
        }

        @Override
        public void close() throws Exception {
            handedOut.forEach(Leases::close);
            cluster.close();
        }
    }

    @Test
    void lease_isAHashUnderThePrefixWithTheTtlAsExpiry() throws Exception {
        try (Store store = new Store(new RedisTestCluster("leases-layout"))) {
            ReplicaId id = ReplicaId.random("a");
            Lease lease = store.leases(id).tryAcquire("order-17", TTL).join().orElseThrow();
            String key = store.cluster.prefix + ":lease:order-17";

            List<RespReply> hash = store.send("HGETALL", key).asList();
            assertThat(hash.stream().map(RespReply::asString).toList())
                    .containsExactlyInAnyOrder(
                            "holder", id.uuid().toString(), "name", "a", "token", Long.toString(lease.token()));
            assertThat(store.send("PTTL", key).asLong()).isBetween(TTL.toMillis() - 5_000, TTL.toMillis());
            assertThat(Long.parseLong(store.send("GET", store.cluster.prefix + ":lease-tokens")
                            .asString()))
                    .isEqualTo(lease.token());
        }
    }

    @Test
    void prefixes_onOneServer_leaseTheSameKeyIndependently() throws Exception {
        try (Store blue = new Store(new RedisTestCluster("leases-blue"));
                Store green = new Store(new RedisTestCluster("leases-green"))) {
            Leases inBlue = blue.leases(ReplicaId.random("a"));
            Leases inGreen = green.leases(ReplicaId.random("b"));

            Lease blueLease = inBlue.tryAcquire("k", TTL).join().orElseThrow();
            Lease greenLease = inGreen.tryAcquire("k", TTL).join().orElseThrow();

            assertThat(inGreen.owner("k").join()).map(LeaseOwner::token).contains(greenLease.token());
            assertThat(inBlue.owner("k").join()).map(LeaseOwner::token).contains(blueLease.token());
        }
    }

    @Test
    void lostTokenCounter_restartsAboveEveryTokenIssued() throws Exception {
        try (Store store = new Store(new RedisTestCluster("leases-counter"))) {
            Leases a = store.leases(ReplicaId.random("a"));
            Lease before = a.tryAcquire("k1", TTL).join().orElseThrow();

            // As after a restart without persistence: the counter restarts from the server clock, not from 1.
            store.send("DEL", store.cluster.prefix + ":lease-tokens");
            Lease after = a.claim("k1", TTL).join();

            assertThat(after.token()).isGreaterThan(before.token());
            assertThat(a.tryAcquire("k2", TTL).join().orElseThrow().token()).isGreaterThan(after.token());
        }
    }

    @Test
    void flushedScripts_areSentAgainAndRun() throws Exception {
        // Owned server: SCRIPT FLUSH would disturb other tests on the shared one.
        try (TestRedis.Embedded owned = TestRedis.startEmbedded();
                Store store = new Store(new RedisTestCluster(owned, "leases-noscript"))) {
            Leases a = store.leases(ReplicaId.random("a"));
            Lease lease = a.tryAcquire("k", TTL).join().orElseThrow();
            assertThat(store.send("SCRIPT", "EXISTS", RedisLeaseScripts.TAKE.sha1())
                            .asList()
                            .get(0)
                            .asLong())
                    .isEqualTo(1);

            assertThat(store.send("SCRIPT", "FLUSH").asString()).isEqualTo("OK");

            assertThat(a.renew(lease).join().token()).isEqualTo(lease.token());
            assertThat(a.tryAcquire("k", TTL).join()).map(Lease::token).contains(lease.token());
            assertThat(a.owner("k").join()).map(LeaseOwner::token).contains(lease.token());
        }
    }

    @Test
    void foreignValueUnderTheKey_failsWithTheOperationAndKey() throws Exception {
        try (Store store = new Store(new RedisTestCluster("leases-wrongtype"))) {
            Leases leases = store.leases(ReplicaId.random("a"));
            store.send("SET", store.cluster.prefix + ":lease:order-17", "not a lease");

            assertThatThrownBy(() -> leases.tryAcquire("order-17", TTL).join())
                    .isInstanceOf(CompletionException.class)
                    .cause()
                    .isInstanceOfSatisfying(LeaseStoreException.class, e -> {
                        assertThat(e.operation()).isEqualTo("tryAcquire");
                        assertThat(e.key()).isEqualTo("order-17");
                    })
                    .hasMessageContaining("tryAcquire of 'order-17'")
                    .hasMessageContaining("WRONGTYPE");
            assertThatThrownBy(() -> leases.owner("order-17").join())
                    .cause()
                    .isInstanceOf(LeaseStoreException.class)
                    .hasMessageContaining("owner of 'order-17'");
        }
    }

    @Test
    void unreachableRedis_failsWithTheOperationAndKeyAndRecovers() throws Exception {
        try (RedisTestCluster cluster = new RedisTestCluster("leases-unreachable");
                Store store = new Store(cluster)) {
            FaultProxy proxy = cluster.proxy();
            Leases leases = store.leases(RedisLeases.builder(
                    cluster.connector(proxy.host(), proxy.port(), cluster.prefix), ReplicaId.random("a")));
            Lease lease = leases.tryAcquire("k", TTL).join().orElseThrow();

            proxy.refuse(true);
            proxy.cut();

            assertThatThrownBy(() -> leases.renew(lease).join())
                    .cause()
                    .isInstanceOfSatisfying(LeaseStoreException.class, e -> {
                        assertThat(e.operation()).isEqualTo("renew");
                        assertThat(e.key()).isEqualTo("k");
                    })
                    .hasMessageContaining("renew of 'k' failed on redis://");

            proxy.refuse(false);

            await().atMost(Duration.ofSeconds(20))
                    .ignoreExceptions()
                    .until(() -> leases.renew(lease).join().token() == lease.token());
        }
    }

    @Test
    void closedLeases_refuseWork() throws Exception {
        try (Store store = new Store(new RedisTestCluster("leases-closed"))) {
            Leases leases = store.leases(ReplicaId.random("a"));
            leases.close();
            leases.close();

            assertThatThrownBy(() -> leases.owner("k").join()).cause().hasMessageContaining("closed");
        }
    }
}

package dev.chorus.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.health.Health;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.MembershipCompatibilityKit;
import dev.chorus.testkit.RespClient;
import dev.chorus.testkit.RespReply;
import dev.chorus.testkit.TestRedis;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Redis membership passes the membership compatibility kit, and survives an unreachable server and lost data. */
class RedisMembershipIT extends MembershipCompatibilityKit {

    static final Duration INTERVAL = Duration.ofMillis(200);
    static final Duration EXPIRY = Duration.ofSeconds(1);

    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger membershipLog = (Logger) LoggerFactory.getLogger(RedisMembership.class);

    @Override
    protected MembershipFixture newCluster(String testName) {
        return new Cluster(new RedisTestCluster(RedisLeasesIT.hint("m-" + testName)));
    }

    @BeforeEach
    void captureLogs() {
        logs.start();
        membershipLog.addAppender(logs);
    }

    @AfterEach
    void stopCapturingLogs() {
        membershipLog.detachAppender(logs);
    }

    /** One key prefix; every member gets its own connector, as separate processes would. */
    static final class Cluster implements MembershipFixture {
        final RedisTestCluster redis;
        private final List<Runnable> closers = new CopyOnWriteArrayList<>();

        Cluster(RedisTestCluster redis) {
            this.redis = redis;
        }

        RedisMembership join(RedisMembership.Builder builder) {
            RedisMembership membership =
                    builder.heartbeatInterval(INTERVAL).expiry(EXPIRY).build();
            closers.add(0, membership::close);
            return membership;
        }

        @Override
        public Membership join(ReplicaId replica, String version, Map<String, String> attributes) {
            return join(RedisMembership.builder(redis.connector(), replica)
                    .version(version)
                    .attributes(attributes));
        }

        @Override
        public void crash(Membership membership) {
            ((RedisMembership) membership).abandon();
        }

        @Override
        public Duration expiry() {
            // The last heartbeat may be one interval old at the crash, and expiry is noticed at a refresh.
            return EXPIRY.plus(INTERVAL).plus(INTERVAL);
        }

        String key(String name) {
            return redis.prefix + ":" + name;
        }

        RespReply send(String... command) {
            try (RespClient client = redis.server.client()) {
                return client.send(command);
            }
        }

        boolean hasEntry(ReplicaId replica) {
            return !send("ZSCORE", key("members"), replica.uuid().toString()).isNull();
        }

        @Override
        public void close() throws Exception {
            // Members leave before their connectors close.
            closers.forEach(Runnable::run);
            redis.close();
        }
    }

    private static ConditionFactory waiting() {
        return await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10));
    }

    @Test
    void builder_rejectsAnExpiryNotAboveTwiceTheInterval() throws Exception {
        try (RedisTestCluster redis = new RedisTestCluster("m-builder")) {
            RedisConnector connector = redis.connector();

            assertThatThrownBy(() -> RedisMembership.builder(connector, ReplicaId.random())
                            .heartbeatInterval(Duration.ofSeconds(2))
                            .expiry(Duration.ofSeconds(4))
                            .build())
                    .isInstanceOf(ChorusException.class)
                    .hasMessageContaining("PT4S")
                    .hasMessageContaining("twice the heartbeat interval (PT2S)");
        }
    }

    @Test
    void member_isAHashAndASortedSetEntryUnderThePrefix() throws Exception {
        try (Cluster cluster = new Cluster(new RedisTestCluster("m-layout"))) {
            ReplicaId id = ReplicaId.random("a");
            Membership a = cluster.join(id, "1.2.3", Map.of("zone", "eu-1"));
            String hash = cluster.key("member:" + id.uuid());

            List<String> fields = cluster.send("HGETALL", hash).asList().stream()
                    .map(RespReply::asString)
                    .toList();
            assertThat(fields)
                    .containsSubsequence("name", "a")
                    .containsSubsequence("version", "1.2.3")
                    .containsSubsequence("attr:zone", "eu-1")
                    .contains("started", Long.toString(a.self().started().toEpochMilli()));
            assertThat(cluster.send("PTTL", hash).asLong()).isBetween(1L, EXPIRY.toMillis());
            assertThat(cluster.hasEntry(id)).isTrue();

            a.close();

            assertThat(cluster.send("EXISTS", hash).asLong()).isZero();
            assertThat(cluster.hasEntry(id)).isFalse();
            assertThat(cluster.send(
                                    "ZSCORE",
                                    cluster.key("members-left"),
                                    id.uuid().toString())
                            .isNull())
                    .isFalse();
        }
    }

    @Test
    void unreachableRedis_degradesKeepsTheLastListAndRecovers() throws Exception {
        try (Cluster cluster = new Cluster(new RedisTestCluster("m-unreachable"))) {
            FaultProxy proxy = cluster.redis.proxy();
            RedisConnector viaProxy = cluster.redis.connector(proxy.host(), proxy.port(), cluster.redis.prefix);
            RedisMembership a = cluster.join(RedisMembership.builder(viaProxy, ReplicaId.random("a")));
            Membership b = cluster.join(ReplicaId.random("b"), "1.0.0", Map.of());
            Recorder onB = new Recorder();
            b.onChange(onB);
            waiting().until(() -> a.liveCount() == 2);

            proxy.refuse(true);
            proxy.cut();

            waiting().until(() -> a.health().status() == Health.Status.DEGRADED);
            assertThat(a.health().reason())
                    .contains("cannot heartbeat to Redis")
                    .contains("ms old");
            waiting().until(() -> onB.events.contains("EXPIRED a"));
            waiting()
                    .until(() -> errors() == 1
                            && a.health().details().get("membersAgeMillis") instanceof Long age
                            && age > EXPIRY.toMillis() * 2);
            assertThat(a.members())
                    .as("the last known list")
                    .extracting(m -> m.id().name())
                    .contains("a", "b");
            assertThat(errors()).as("one ERROR for the whole outage").isEqualTo(1);

            proxy.refuse(false);

            waiting().until(() -> a.health().isHealthy());
            waiting().until(() -> onB.events.contains("joined a"));
            assertThat(logs.list).anySatisfy(e -> {
                assertThat(e.getLevel()).isEqualTo(Level.INFO);
                assertThat(e.getFormattedMessage()).contains("reach Redis again");
            });
        }
    }

    @Test
    void ownEntryRemovedWhileAlive_isReAddedWithAWarning() throws Exception {
        try (Cluster cluster = new Cluster(new RedisTestCluster("m-readd"))) {
            Membership a = cluster.join(ReplicaId.random("a"), "1.0.0", Map.of());
            Membership b = cluster.join(ReplicaId.random("b"), "1.0.0", Map.of("k", "v"));
            waiting().until(() -> a.liveCount() == 2);
            Member before = b.self();
            ReplicaId bId = before.id();

            cluster.send("DEL", cluster.key("member:" + bId.uuid()));
            cluster.send("ZREM", cluster.key("members"), bId.uuid().toString());

            waiting()
                    .until(() -> logs.list.stream()
                            .anyMatch(e -> e.getLevel() == Level.WARN
                                    && e.getFormattedMessage().contains("was gone")));
            waiting().until(() -> cluster.hasEntry(bId));
            assertThat(b.self().started()).isEqualTo(before.started());
            waiting()
                    .until(() -> a.member(bId)
                            .map(m -> m.attributes().equals(Map.of("k", "v")))
                            .orElse(false));
        }
    }

    @Test
    void lostData_isRebuiltWithoutLeaveEvents() throws Exception {
        try (Cluster cluster = new Cluster(new RedisTestCluster("m-lost"))) {
            Membership a = cluster.join(ReplicaId.random("a"), "1.0.0", Map.of());
            Recorder onA = new Recorder();
            a.onChange(onA);
            Membership b = cluster.join(ReplicaId.random("b"), "1.0.0", Map.of());
            waiting().until(() -> onA.events.contains("joined b"));

            // As a Redis restart without persistence would: every key of the cluster gone at once.
            cluster.send(
                    "DEL",
                    cluster.key("members"),
                    cluster.key("member:" + a.self().id().uuid()),
                    cluster.key("member:" + b.self().id().uuid()));

            waiting()
                    .until(() -> logs.list.stream()
                                    .filter(e -> e.getLevel() == Level.WARN
                                            && e.getFormattedMessage().contains("was gone"))
                                    .count()
                            == 2);
            waiting()
                    .until(() -> cluster.hasEntry(a.self().id())
                            && cluster.hasEntry(b.self().id()));
            // Past the expiry of the last beats seen before the loss: a false leave would have shown by then.
            await().during(EXPIRY.plus(INTERVAL.multipliedBy(2)))
                    .atMost(EXPIRY.multipliedBy(5))
                    .until(() -> onA.events.equals(List.of("joined b")) && a.liveCount() == 2);
        }
    }

    @Test
    void serverRestartWithoutPersistence_neverReportsAGoodbye() throws Exception {
        try (TestRedis.Embedded owned = TestRedis.startEmbedded();
                Cluster cluster = new Cluster(new RedisTestCluster(owned, "m-restart"))) {
            Membership a = cluster.join(ReplicaId.random("a"), "1.0.0", Map.of());
            Recorder onA = new Recorder();
            a.onChange(onA);
            Membership b = cluster.join(ReplicaId.random("b"), "1.0.0", Map.of());
            waiting().until(() -> onA.events.contains("joined b"));

            owned.stop();
            waiting().until(() -> a.health().status() == Health.Status.DEGRADED);
            owned.start();

            waiting().until(() -> a.health().isHealthy() && b.health().isHealthy());
            waiting().until(() -> a.liveCount() == 2 && b.liveCount() == 2);
            assertThat(onA.events)
                    .as("an outage longer than the expiry may show as EXPIRED, never as a clean leave")
                    .doesNotContain("LEFT b");
        }
    }

    @Test
    void expiredEntries_areRemovedOnlyAfterThreeExpiries() throws Exception {
        try (Cluster cluster = new Cluster(new RedisTestCluster("m-removal"))) {
            Membership a = cluster.join(ReplicaId.random("a"), "1.0.0", Map.of());
            Recorder onA = new Recorder();
            a.onChange(onA);
            Membership b = cluster.join(ReplicaId.random("b"), "1.0.0", Map.of());
            waiting().until(() -> onA.events.contains("joined b"));

            long crashed = System.nanoTime();
            cluster.crash(b);

            waiting().until(() -> onA.events.contains("EXPIRED b"));
            assertThat(cluster.hasEntry(b.self().id()))
                    .as("expired, not yet removed")
                    .isTrue();
            waiting().until(() -> !cluster.hasEntry(b.self().id()));
            Duration kept = Duration.ofNanos(System.nanoTime() - crashed);
            assertThat(kept)
                    .isGreaterThan(EXPIRY.multipliedBy(RedisMembership.REMOVE_AFTER_EXPIRIES)
                            .minus(INTERVAL));
            assertThat(onA.events).containsExactly("joined b", "EXPIRED b");
        }
    }

    @Test
    void anotherPrefix_onTheSameServer_isInvisible() throws Exception {
        try (Cluster cluster = new Cluster(new RedisTestCluster("m-prefixes"));
                Cluster other = new Cluster(new RedisTestCluster("m-prefixes-other"))) {
            Membership a = cluster.join(ReplicaId.random("a"), "1.0.0", Map.of());
            Membership stranger = other.join(ReplicaId.random("x"), "1.0.0", Map.of());
            Membership b = cluster.join(ReplicaId.random("b"), "1.0.0", Map.of());

            waiting().until(() -> a.liveCount() == 2);
            assertThat(a.member(stranger.self().id())).isEmpty();
            assertThat(stranger.members()).extracting(m -> m.id().name()).containsExactly("x");
            assertThat(b.health().details())
                    .containsEntry("backend", "redis")
                    .containsEntry("prefix", cluster.redis.prefix);
        }
    }

    private long errors() {
        return logs.list.stream().filter(e -> e.getLevel() == Level.ERROR).count();
    }

    /** Records events as "joined name" and "REASON name". */
    static final class Recorder implements MembershipListener {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void onJoined(Member member) {
            events.add("joined " + member.id().name());
        }

        @Override
        public void onLeft(Member member, LeaveReason reason) {
            events.add(reason + " " + member.id().name());
        }
    }
}

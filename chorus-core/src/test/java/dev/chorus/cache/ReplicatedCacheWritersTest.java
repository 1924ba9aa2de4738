package dev.chorus.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.chorus.ReplicaId;
import dev.chorus.health.Health;
import dev.chorus.local.LocalCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Issue 20: a cache trusts itself only while it hears every replica its membership lists, since each could write
 * to the shared storage. Backplanes here are separate in-process clusters ("islands") that cannot hear each other,
 * while one membership lists every replica, as when one replica runs {@code CHORUS_BACKPLANE=inprocess} (or
 * another channel) beside others that share its {@code DATABASE_URL}.
 */
class ReplicatedCacheWritersTest {

    private static final Duration BOUND = Duration.ofMillis(600);
    private static final Duration HEARTBEAT = Duration.ofMillis(100);

    private final LocalCluster island = LocalCluster.create("writers");
    private final LocalCluster otherIsland = LocalCluster.create("writers");
    /** The shared store of membership (its backplanes are unused). */
    private final LocalCluster members = LocalCluster.create("members");

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final Map<String, String> source = new ConcurrentHashMap<>();

    @AfterEach
    void close() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private <T extends AutoCloseable> T closing(T closeable) {
        closeables.add(closeable);
        return closeable;
    }

    /** A replica on {@code backplanes}, listed in the shared membership, with its cache. */
    private Node node(LocalCluster backplanes, String name) {
        ReplicaId id = ReplicaId.random(name);
        LocalCluster.LocalReplica replica = closing(backplanes.join(id));
        LocalCluster.LocalReplica listed = closing(members.join(id));
        return new Node(id, replica, listed, cache(replica, listed));
    }

    private ReplicatedCache<String, String> cache(LocalCluster.LocalReplica replica, LocalCluster.LocalReplica listed) {
        return closing(ReplicatedCache.<String, String>builder(replica.backplane(), "users", KeyCodec.strings())
                .stalenessBound(BOUND)
                .heartbeatInterval(HEARTBEAT)
                .membership(listed.membership())
                .build());
    }

    private record Node(
            ReplicaId id,
            LocalCluster.LocalReplica replica,
            LocalCluster.LocalReplica listed,
            ReplicatedCache<String, String> cache) {}

    private String read(ReplicatedCache<String, String> cache, String key) {
        return cache.get(key, source::get);
    }

    @Test
    void aReplicaListedByMembershipButOnAnotherBackplane_keepsEveryCacheBypassed_andHealthNamesIt() {
        Node a = node(island, "a");
        Node b = node(otherIsland, "b");
        source.put("k", "v1");
        read(a.cache(), "k");

        // b changes the storage; its invalidation cannot reach a.
        source.put("k", "v2");
        b.cache().invalidate("k");

        // Three bounds long: on the old code a served v1 (its backplane HEALTHY, no peer it knew of silent).
        await().during(BOUND.multipliedBy(3)).atMost(BOUND.multipliedBy(6)).untilAsserted(() -> {
            assertThat(read(a.cache(), "k")).isEqualTo("v2");
            assertThat(a.cache().isServing()).isFalse();
        });
        assertThat(a.cache().stats().bypassedReads()).isPositive();
        assertThat(a.cache().unheard()).containsOnlyKeys(b.id());
        assertThat(b.cache().unheard()).containsOnlyKeys(a.id());
        Health health = a.cache().health();
        assertThat(health.status()).isEqualTo(Health.Status.DEGRADED);
        assertThat(health.reason())
                .startsWith("reads bypass the cache")
                .contains("replica " + b.id() + " is live in membership but nothing has been heard from it")
                .contains("CHORUS_BACKPLANE");
        assertThat(health.details()).containsEntry("unheard", List.of(b.id().toString()));
    }

    @Test
    void aReplicaListedLaterOnAnotherBackplane_stopsACacheThatServed() {
        Node a = node(island, "a");
        await().until(a.cache()::isServing);
        source.put("k", "v1");
        read(a.cache(), "k");
        assertThat(a.cache().getIfPresent("k")).isEqualTo("v1");

        Node b = node(otherIsland, "b");
        source.put("k", "v2");
        b.cache().invalidate("k");

        await().atMost(BOUND).until(() -> !a.cache().isServing());
        assertThat(a.cache().getIfPresent("k")).isNull();
        assertThat(read(a.cache(), "k")).isEqualTo("v2");

        // b goes away: nothing unheard is left, and a's cache serves again from a flushed start.
        b.listed().close();
        await().until(a.cache()::isServing);
        assertThat(a.cache().unheard()).isEmpty();
        assertThat(a.cache().getIfPresent("k")).isNull();
    }

    @Test
    void aReplicaJoiningTheSameBackplane_isWaitedForOnlyUntilItsFirstHeartbeat_withoutAWarn() {
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        Logger logger = (Logger) LoggerFactory.getLogger(ReplicatedCache.class);
        logger.addAppender(logs);
        try {
            Node a = node(island, "a");
            await().until(a.cache()::isServing);

            // Listed before its cache runs, as a server joins membership before it builds its cache.
            ReplicaId id = ReplicaId.random("b");
            LocalCluster.LocalReplica replica = closing(island.join(id));
            LocalCluster.LocalReplica listed = closing(members.join(id));
            await().atMost(BOUND).until(() -> !a.cache().isServing());
            assertThat(a.cache().unheard()).containsOnlyKeys(id);

            ReplicatedCache<String, String> b = cache(replica, listed);
            await().atMost(BOUND).until(() -> a.cache().isServing() && b.isServing());
            assertThat(a.cache().peers()).containsExactly(id);
            assertThat(a.cache().unheard()).isEmpty();
            assertThat(logs.list).noneMatch(e -> e.getLevel().isGreaterOrEqual(Level.WARN));
        } finally {
            logger.detachAppender(logs);
        }
    }

    @Test
    void aListedReplicaHeardBeforeThatFallsSilent_isNamedUnheard_untilHeardAgain() {
        Node a = node(island, "a");
        Node b = node(island, "b");
        await().until(() -> a.cache().isServing() && a.cache().peers().contains(b.id()));
        assertThat(a.cache().unheard()).isEmpty();

        island.isolate(b.id()); // a partition: a's backplane stays HEALTHY and membership still lists b

        await().atMost(BOUND.multipliedBy(3)).until(() -> a.cache().unheard().containsKey(b.id()));
        assertThat(a.cache().isServing()).isFalse();
        assertThat(a.cache().unheard().get(b.id())).isGreaterThanOrEqualTo(BOUND.minus(HEARTBEAT));
        assertThat(a.cache().health().reason()).contains("nothing heard from replica " + b.id());

        island.heal(b.id());
        await().atMost(BOUND.multipliedBy(6)).until(() -> a.cache().isServing());
        assertThat(a.cache().unheard()).isEmpty();
    }

    @Test
    void aReplicaWhoseCacheSaidGoodbye_isNoWriterWhileMembershipStillListsIt() {
        Node a = node(island, "a");
        ReplicaId id = ReplicaId.random("b");
        LocalCluster.LocalReplica replica = closing(island.join(id));
        LocalCluster.LocalReplica listed = closing(members.join(id));
        ReplicatedCache<String, String> b = cache(replica, listed);
        await().until(() -> a.cache().peers().contains(id) && a.cache().isServing());

        b.close(); // its server stopped taking requests first; membership still lists it

        await().during(BOUND.multipliedBy(2)).atMost(BOUND.multipliedBy(4)).until(a.cache()::isServing);
        assertThat(a.cache().peers()).isEmpty();
        assertThat(a.cache().unheard()).isEmpty();
    }
}

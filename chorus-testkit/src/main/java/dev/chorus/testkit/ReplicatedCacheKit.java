package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.TransactionalBackplane;
import dev.chorus.cache.CacheStats;
import dev.chorus.cache.KeyCodec;
import dev.chorus.cache.PendingInvalidation;
import dev.chorus.cache.ReplicatedCache;
import dev.chorus.health.Health;
import dev.chorus.local.LocalCluster;
import dev.chorus.membership.Membership;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@link ReplicatedCache} must guarantee on every transport, proved against a real source of truth: a
 * PostgreSQL table that a writer on one replica changes while readers on two others read through their
 * caches, with every read checked against the committed version history.
 *
 * <p>A subclass supplies the transport through {@link #newCluster(String)} (the same fixtures as {@link
 * BackplaneCompatibilityKit}); fault runs need {@link BackplaneCompatibilityKit.ClusterFixture#faults()}.
 */
public abstract class ReplicatedCacheKit {

    private static final Logger LOG = LoggerFactory.getLogger(ReplicatedCacheKit.class);
    /** The bound every run is checked against: short, so a run takes seconds, but far above latency. */
    protected static final Duration BOUND = Duration.ofMillis(1500);

    private static final Duration HEARTBEAT = Duration.ofMillis(250);
    private static final int KEYS = 20;

    /** Creates this test's cluster; {@code testName} helps name its channel or schema. */
    protected abstract BackplaneCompatibilityKit.ClusterFixture newCluster(String testName) throws Exception;

    private BackplaneCompatibilityKit.ClusterFixture cluster;
    private TestPostgres.Schema schema;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeEach
    void createCluster(TestInfo info) throws Exception {
        String test = info.getTestMethod().map(m -> m.getName()).orElse("test");
        cluster = newCluster(test);
        schema = TestPostgres.server().newSchema("cachekit");
        try (Connection c = schema.connect();
                Statement statement = c.createStatement()) {
            statement.execute("CREATE TABLE items (id text PRIMARY KEY, version bigint NOT NULL)");
            for (int i = 0; i < KEYS; i++) {
                statement.execute("INSERT INTO items VALUES ('k" + i + "', 0)");
            }
        }
    }

    @AfterEach
    void closeCluster() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        cluster.close();
        schema.close();
    }

    private ReplicatedCache<String, Long> cacheOn(Backplane backplane) {
        return cacheOn(backplane, null);
    }

    private ReplicatedCache<String, Long> cacheOn(Backplane backplane, @Nullable Membership membership) {
        ReplicatedCache.Builder<String, Long> builder = ReplicatedCache.<String, Long>builder(
                        backplane, "items", KeyCodec.strings())
                .stalenessBound(BOUND)
                .heartbeatInterval(HEARTBEAT);
        if (membership != null) {
            builder.membership(membership);
        }
        ReplicatedCache<String, Long> cache = builder.build();
        closeables.add(cache);
        return cache;
    }

    /** Three replicas, each with the cache, every one hearing the others' heartbeats. */
    private List<Node> threeReplicas() {
        List<Node> nodes = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Backplane backplane = cluster.join();
            nodes.add(new Node(backplane, cacheOn(backplane)));
        }
        await().atMost(Duration.ofSeconds(30))
                .until(() -> nodes.stream()
                        .allMatch(n -> n.backplane.health().isHealthy()
                                && n.cache.peers().size() == 2
                                && n.cache.isServing()));
        return nodes;
    }

    private record Node(Backplane backplane, ReplicatedCache<String, Long> cache) {}

    private BackplaneCompatibilityKit.Faults faults() {
        Optional<BackplaneCompatibilityKit.Faults> faults = cluster.faults();
        Assumptions.assumeTrue(faults.isPresent(), "this transport's fixture injects no faults");
        return faults.get();
    }

    // ---- staleness checker ----

    @Test
    void staleness_cleanRun_noReadIsOlderThanTheBound() throws Exception {
        List<Node> nodes = threeReplicas();
        Run run = new Run(nodes, Strategy.best(nodes.get(0).backplane));
        run.go("clean", Duration.ofSeconds(4), () -> {});
        run.assertWithinBound();
        assertThat(run.readerStats().stream().mapToLong(CacheStats::hits).sum())
                .as("the readers' caches answered reads")
                .isPositive();
        assertThat(run.readerStats().stream()
                        .mapToLong(CacheStats::remoteInvalidations)
                        .sum())
                .as("the readers heard invalidations")
                .isPositive();
    }

    @Test
    void staleness_afterCommitHook_noReadIsOlderThanTheBound() throws Exception {
        List<Node> nodes = threeReplicas();
        Run run = new Run(nodes, Strategy.AFTER_COMMIT);
        run.go("clean, after-commit hook", Duration.ofSeconds(3), () -> {});
        run.assertWithinBound();
    }

    @Test
    void staleness_readerConnectionKilledMidRun_noReadIsOlderThanTheBound() throws Exception {
        BackplaneCompatibilityKit.Faults faults = faults();
        List<Node> nodes = threeReplicas();
        Run run = new Run(nodes, Strategy.best(nodes.get(0).backplane));
        Node reader = nodes.get(1);
        run.go("reader killed", Duration.ofSeconds(6), () -> {
            faults.kill(reader.backplane);
        });
        run.assertWithinBound();
        assertThat(reader.cache.stats().flushes())
                .as("the killed connection made the reader flush its cache")
                .isPositive();
    }

    @Test
    void staleness_readerConnectionFrozenMidRun_noReadIsOlderThanTheBound() throws Exception {
        BackplaneCompatibilityKit.Faults faults = faults();
        List<Node> nodes = threeReplicas();
        Run run = new Run(nodes, Strategy.best(nodes.get(0).backplane));
        Node reader = nodes.get(1);
        run.go("reader frozen", Duration.ofSeconds(8), () -> {
            faults.freeze(reader.backplane);
            await().atMost(BOUND.multipliedBy(4)).until(() -> !reader.cache.isServing());
            LockSupport.parkNanos(BOUND.toNanos()); // keep writing while the reader bypasses
            faults.heal(reader.backplane);
        });
        run.assertWithinBound();
        assertThat(reader.cache.stats().bypassedReads())
                .as("the frozen reader stopped answering from its cache")
                .isPositive();
        await().atMost(Duration.ofSeconds(30)).until(reader.cache::isServing);
    }

    @Test
    void staleness_writerConnectionFrozenMidRun_noReadIsOlderThanTheBound() throws Exception {
        BackplaneCompatibilityKit.Faults faults = faults();
        List<Node> nodes = threeReplicas();
        Run run = new Run(nodes, Strategy.best(nodes.get(0).backplane));
        Node writer = nodes.get(0);
        run.go("writer frozen", Duration.ofSeconds(8), () -> {
            faults.freeze(writer.backplane);
            LockSupport.parkNanos(BOUND.multipliedBy(2).toNanos());
            faults.heal(writer.backplane);
        });
        run.assertWithinBound();
    }

    /** Writers and readers running against the table while {@code fault} runs midway. */
    private final class Run {
        private final Node writer;
        private final List<Node> readers;
        private final Strategy strategy;
        private final Map<String, Map<Long, Long>> commitStarts = new ConcurrentHashMap<>();
        private final AtomicLong worstStaleness = new AtomicLong();
        private final AtomicLong reads = new AtomicLong();
        private final AtomicLong writes = new AtomicLong();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        private volatile @Nullable String worstRead;

        Run(List<Node> nodes, Strategy strategy) {
            this.writer = nodes.get(0);
            this.readers = nodes.subList(1, nodes.size());
            this.strategy = strategy;
            for (int i = 0; i < KEYS; i++) {
                commitStarts.put("k" + i, new ConcurrentHashMap<>());
            }
        }

        void go(String label, Duration length, FaultAction fault) throws Exception {
            List<Thread> threads = new ArrayList<>();
            threads.add(Thread.ofVirtual().name("cachekit-writer").start(this::write));
            for (Node reader : readers) {
                threads.add(Thread.ofVirtual().name("cachekit-reader").start(() -> read(reader)));
            }
            long end = System.nanoTime() + length.toNanos();
            LockSupport.parkNanos(length.toNanos() / 4);
            fault.run();
            long left = end - System.nanoTime();
            if (left > 0) {
                LockSupport.parkNanos(left);
            }
            running.set(false);
            for (Thread thread : threads) {
                thread.join(Duration.ofSeconds(30));
            }
            LOG.info(
                    "Staleness check [{}] on {} with {}: {} writes, {} reads, worst staleness {} ms (bound {} ms){}",
                    label,
                    writer.backplane.backend(),
                    strategy,
                    writes.get(),
                    reads.get(),
                    worstStaleness.get() / 1_000_000.0,
                    BOUND.toMillis(),
                    worstRead == null ? "" : ": " + worstRead);
            assertThat(failures).as("errors in writer or readers").isEmpty();
            assertThat(writes.get()).as("writes").isGreaterThan(20);
            assertThat(reads.get()).as("reads").isGreaterThan(100);
        }

        void assertWithinBound() {
            assertThat(worstStaleness.get())
                    .as("worst staleness in ns (%s)", worstRead)
                    .isLessThanOrEqualTo(BOUND.toNanos());
        }

        List<CacheStats> readerStats() {
            return readers.stream().map(n -> n.cache.stats()).toList();
        }

        private void write() {
            try (Connection c = schema.connect()) {
                c.setAutoCommit(false);
                while (running.get()) {
                    String key = "k" + ThreadLocalRandom.current().nextInt(KEYS);
                    writeOnce(c, key);
                    writes.incrementAndGet();
                    LockSupport.parkNanos(Duration.ofMillis(10).toNanos());
                }
            } catch (Throwable t) {
                failures.add(t);
            }
        }

        private void writeOnce(Connection c, String key) throws SQLException {
            PendingInvalidation pending =
                    strategy == Strategy.AFTER_COMMIT ? writer.cache.invalidateOnCommit(key) : null;
            long version;
            try (PreparedStatement update =
                    c.prepareStatement("UPDATE items SET version = version + 1 WHERE id = ? RETURNING version")) {
                update.setString(1, key);
                try (ResultSet rs = update.executeQuery()) {
                    rs.next();
                    version = rs.getLong(1);
                }
            }
            if (strategy == Strategy.TRANSACTIONAL) {
                writer.cache.invalidate(c, key);
            }
            commitStarts.get(key).put(version, System.nanoTime());
            c.commit();
            if (pending != null) {
                pending.committed();
                pending.close();
            }
        }

        private void read(Node reader) {
            try (Connection c = schema.connect();
                    PreparedStatement select = c.prepareStatement("SELECT version FROM items WHERE id = ?")) {
                while (running.get()) {
                    String key = "k" + ThreadLocalRandom.current().nextInt(KEYS);
                    long start = System.nanoTime();
                    Long version = reader.cache.get(key, k -> {
                        try {
                            select.setString(1, k);
                            try (ResultSet rs = select.executeQuery()) {
                                rs.next();
                                return rs.getLong(1);
                            }
                        } catch (SQLException e) {
                            throw new IllegalStateException(e);
                        }
                    });
                    reads.incrementAndGet();
                    check(reader, key, start, version);
                    LockSupport.parkNanos(Duration.ofMillis(1).toNanos());
                }
            } catch (Throwable t) {
                failures.add(t);
            }
        }

        /** A read that began after version+1 started committing returned a stale value; by how much. */
        private void check(Node reader, String key, long start, Long version) {
            Long next = commitStarts.get(key).get(version + 1);
            if (next == null || next - start >= 0) {
                return;
            }
            long staleness = start - next;
            if (staleness > worstStaleness.get()) {
                worstStaleness.set(staleness);
                worstRead = "replica " + reader.backplane.replica() + " read " + key + " v" + version + " "
                        + staleness / 1_000_000 + " ms after v" + (version + 1) + " began committing";
            }
        }
    }

    /** How the writer ties its invalidation to its commit. */
    private enum Strategy {
        /** {@code invalidate(Connection, key)} inside the transaction (transactional backplanes only). */
        TRANSACTIONAL,
        /** {@code invalidateOnCommit(key)} and {@code committed()} after the commit. */
        AFTER_COMMIT;

        static Strategy best(Backplane backplane) {
            return backplane instanceof TransactionalBackplane ? TRANSACTIONAL : AFTER_COMMIT;
        }
    }

    /** A fault injected midway through a run. */
    @FunctionalInterface
    private interface FaultAction {
        void run() throws Exception;
    }

    // ---- focused checks ----

    @Test
    void rolledBackChangeNeverInvalidates() throws Exception {
        List<Node> nodes = threeReplicas();
        Node writer = nodes.get(0);
        Node reader = nodes.get(1);
        assertThat(reader.cache.get("k1", k -> 0L)).isZero();
        assertThat(reader.cache.get("k2", k -> 0L)).isZero();

        try (Connection c = schema.connect()) {
            c.setAutoCommit(false);
            try (Statement statement = c.createStatement()) {
                statement.execute("UPDATE items SET version = 99 WHERE id = 'k1'");
            }
            if (writer.backplane instanceof TransactionalBackplane) {
                writer.cache.invalidate(c, "k1");
            }
            try (PendingInvalidation pending = writer.cache.invalidateOnCommit("k1")) {
                c.rollback();
                assertThat(pending).isNotNull(); // rolled back: committed() is not called
            }
        }
        writer.cache.invalidate("k2"); // a later invalidation: once it arrived, k1's would have too

        await().atMost(Duration.ofSeconds(20)).until(() -> reader.cache.getIfPresent("k2") == null);
        assertThat(reader.cache.getIfPresent("k1")).isZero();
        assertThat(reader.cache.stats().remoteInvalidations()).isEqualTo(1);
    }

    @Test
    void forgedSequenceGapFlushes() throws Exception {
        Optional<BackplaneCompatibilityKit.RawInjector> injector = cluster.injectEnvelope();
        Assumptions.assumeTrue(injector.isPresent(), "this transport's fixture cannot put raw bytes on the channel");
        List<Node> nodes = threeReplicas();
        Node reader = nodes.get(1);
        reader.cache.get("k1", k -> 0L);
        long flushesBefore = reader.cache.stats().flushes();
        EnvelopeCodec codec = EnvelopeCodec.builder(reader.backplane.cluster())
                .secret(cluster.secret().orElse(null))
                .build();
        ReplicaId forger = ReplicaId.random("forger");
        byte[] heartbeat = {'H', 0, 0, 0, 0};

        injector.get().inject(codec.encode(forged(reader, forger, 1, heartbeat)));
        await().atMost(Duration.ofSeconds(20)).until(() -> reader.cache.peers().contains(forger));
        assertThat(reader.cache.getIfPresent("k1")).isZero();
        injector.get().inject(codec.encode(forged(reader, forger, 3, heartbeat)));

        await().atMost(Duration.ofSeconds(20)).until(() -> reader.cache.stats().gapsDetected() == 1);
        assertThat(reader.cache.stats().flushes()).isEqualTo(flushesBefore + 1);
        assertThat(reader.cache.getIfPresent("k1")).isNull();
    }

    /**
     * Issue 20: two replicas that share storage (one membership lists both) but whose backplanes cannot reach
     * each other (another channel, as a replica on another backplane or channel would be). Neither cache may
     * trust itself, since the other could change the storage unannounced, and each health names the other.
     */
    @Test
    void replicaListedByMembershipButUnreachable_bothCachesBypass_andHealthNamesIt() throws Exception {
        Backplane here = cluster.join();
        Backplane elsewhere = cluster.joinOtherCluster();
        closeables.add(elsewhere);
        LocalCluster store = LocalCluster.create("kit-members");
        LocalCluster.LocalReplica hereListed = store.join(here.replica());
        LocalCluster.LocalReplica elsewhereListed = store.join(elsewhere.replica());
        closeables.add(hereListed);
        closeables.add(elsewhereListed);
        ReplicatedCache<String, Long> a = cacheOn(here, hereListed.membership());
        ReplicatedCache<String, Long> b = cacheOn(elsewhere, elsewhereListed.membership());
        await().atMost(Duration.ofSeconds(30))
                .until(() -> here.health().isHealthy() && elsewhere.health().isHealthy());

        // Two bounds without a single cached answer on either side.
        await().during(BOUND.multipliedBy(2)).atMost(BOUND.multipliedBy(4)).untilAsserted(() -> {
            assertThat(a.get("k1", k -> 0L)).isZero();
            assertThat(b.get("k1", k -> 0L)).isZero();
            assertThat(a.isServing()).isFalse();
            assertThat(b.isServing()).isFalse();
        });
        assertThat(a.stats().hits()).isZero();
        assertThat(b.stats().hits()).isZero();
        assertThat(a.unheard()).containsOnlyKeys(elsewhere.replica());
        assertThat(b.unheard()).containsOnlyKeys(here.replica());
        assertThat(a.health().status()).isEqualTo(Health.Status.DEGRADED);
        assertThat(a.health().reason()).contains("replica " + elsewhere.replica() + " is live in membership");
        assertThat(b.health().details())
                .containsEntry("unheard", List.of(here.replica().toString()));

        // It leaves membership: the remaining cache proves it hears everyone again and serves.
        elsewhereListed.close();
        await().atMost(Duration.ofSeconds(30)).until(a::isServing);
        a.get("k1", k -> 0L);
        assertThat(a.getIfPresent("k1")).isZero();
    }

    private static Envelope forged(Node node, ReplicaId origin, long sequence, byte[] payload) {
        return Envelope.of(
                Envelope.Kind.MESSAGE,
                node.backplane.cluster(),
                origin,
                7,
                sequence,
                Instant.now(),
                node.cache.topic(),
                Map.of(),
                payload);
    }
}

package dev.chorus.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.chorus.ChorusConfig;
import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.health.Health;
import dev.chorus.local.LocalCluster;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** ReplicatedCache on the in-process transport: invalidation, the stale-fill race, gaps, trust and bypass. */
class ReplicatedCacheTest {

    private static final Duration BOUND = Duration.ofMillis(600);
    private static final Duration HEARTBEAT = Duration.ofMillis(100);

    private final LocalCluster cluster = LocalCluster.create("cachetest");
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    /** The source of truth every replica loads from. */
    private final Map<String, String> source = new ConcurrentHashMap<>();

    @AfterEach
    void close() throws Exception {
        threads.shutdownNow();
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        cluster.backplanes().forEach(b -> b.close());
    }

    private LocalCluster.LocalReplica replica(String name) {
        LocalCluster.LocalReplica replica = cluster.join(ReplicaId.random(name));
        closeables.add(replica);
        return replica;
    }

    private ReplicatedCache<String, String> cache(LocalCluster.LocalReplica replica) {
        return cache(replica, b -> b);
    }

    private ReplicatedCache<String, String> cache(
            LocalCluster.LocalReplica replica,
            Function<ReplicatedCache.Builder<String, String>, ReplicatedCache.Builder<String, String>> tweak) {
        ReplicatedCache<String, String> cache = tweak.apply(
                        ReplicatedCache.<String, String>builder(replica.backplane(), "users", KeyCodec.strings())
                                .stalenessBound(BOUND)
                                .heartbeatInterval(HEARTBEAT))
                .build();
        closeables.add(cache);
        return cache;
    }

    /** Waits until every cache has heard every other, so their sequences are tracked from then on. */
    private static void connected(ReplicatedCache<?, ?>... caches) {
        await().until(() ->
                java.util.Arrays.stream(caches).allMatch(c -> c.peers().size() == caches.length - 1));
    }

    private String read(ReplicatedCache<String, String> cache, String key) {
        return cache.get(key, source::get);
    }

    @Test
    void invalidationOnOneReplicaReachesTheOthers() {
        ReplicatedCache<String, String> a = cache(replica("a"));
        ReplicatedCache<String, String> b = cache(replica("b"));
        connected(a, b);
        source.put("k", "v1");
        assertThat(read(a, "k")).isEqualTo("v1");
        assertThat(read(b, "k")).isEqualTo("v1");
        assertThat(b.getIfPresent("k")).isEqualTo("v1");

        source.put("k", "v2");
        a.invalidate("k");

        assertThat(read(a, "k")).isEqualTo("v2");
        await().untilAsserted(() -> assertThat(read(b, "k")).isEqualTo("v2"));
        assertThat(b.stats().remoteInvalidations()).isEqualTo(1);
        assertThat(a.stats().localInvalidations()).isEqualTo(1);
        assertThat(a.stats().remoteInvalidations()).isZero();
    }

    @Test
    void putStoresHereAndInvalidatesElsewhere() {
        ReplicatedCache<String, String> a = cache(replica("a"));
        ReplicatedCache<String, String> b = cache(replica("b"));
        connected(a, b);
        source.put("k", "v1");
        read(b, "k");

        source.put("k", "v2");
        a.put("k", "v2");

        assertThat(a.getIfPresent("k")).isEqualTo("v2");
        await().untilAsserted(() -> assertThat(b.getIfPresent("k")).isNull());
        // Its own echo must not drop the value it just stored.
        await().during(Duration.ofMillis(300))
                .untilAsserted(() -> assertThat(a.getIfPresent("k")).isEqualTo("v2"));
    }

    @Test
    void invalidateAllFlushesEveryReplica() {
        ReplicatedCache<String, String> a = cache(replica("a"));
        ReplicatedCache<String, String> b = cache(replica("b"));
        connected(a, b);
        source.put("x", "1");
        source.put("y", "2");
        read(b, "x");
        read(b, "y");

        a.invalidateAll();

        await().untilAsserted(() -> assertThat(b.stats().size()).isZero());
        assertThat(b.getIfPresent("x")).isNull();
    }

    @Test
    void valueLoadedBeforeALocalInvalidationIsNotStoredAfterIt() throws Exception {
        ReplicatedCache<String, String> a = cache(replica("a"));
        source.put("k", "old");
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Future<String> slowRead = threads.submit(() -> a.get("k", key -> {
            String value = source.get(key);
            loading.countDown();
            block(release);
            return value;
        }));
        assertThat(loading.await(10, TimeUnit.SECONDS)).isTrue();

        source.put("k", "new");
        a.invalidate("k");
        release.countDown();

        assertThat(slowRead.get(10, TimeUnit.SECONDS)).isEqualTo("old"); // the read began before the change
        assertThat(a.getIfPresent("k")).isNull();
        assertThat(read(a, "k")).isEqualTo("new");
        assertThat(a.stats().staleFillsPrevented()).isEqualTo(1);
    }

    @Test
    void valueLoadedBeforeARemoteInvalidationIsNotStoredAfterIt() throws Exception {
        ReplicatedCache<String, String> a = cache(replica("a"));
        ReplicatedCache<String, String> b = cache(replica("b"));
        connected(a, b);
        source.put("k", "old");
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Future<String> slowRead = threads.submit(() -> b.get("k", key -> {
            String value = source.get(key);
            loading.countDown();
            block(release);
            return value;
        }));
        assertThat(loading.await(10, TimeUnit.SECONDS)).isTrue();

        source.put("k", "new");
        a.invalidate("k");
        await().until(() -> b.stats().remoteInvalidations() == 1);
        release.countDown();

        assertThat(slowRead.get(10, TimeUnit.SECONDS)).isEqualTo("old");
        assertThat(b.getIfPresent("k")).isNull();
        assertThat(read(b, "k")).isEqualTo("new");
        assertThat(b.stats().staleFillsPrevented()).isEqualTo(1);
    }

    @Test
    void concurrentReadsOfOneKeyShareOneLoadButNotAcrossAnInvalidation() throws Exception {
        ReplicatedCache<String, String> a = cache(replica("a"));
        source.put("k", "old");
        AtomicInteger calls = new AtomicInteger();
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Function<String, String> slow = key -> {
            String value = source.get(key);
            if (calls.incrementAndGet() == 1) {
                loading.countDown();
                block(release);
            }
            return value;
        };
        Future<String> first = threads.submit(() -> a.get("k", slow));
        assertThat(loading.await(10, TimeUnit.SECONDS)).isTrue();
        Future<String> joiner = threads.submit(() -> a.get("k", slow));
        await().until(() -> a.stats().misses() == 2);

        source.put("k", "new");
        a.invalidate("k");
        // A read that starts after the invalidation must not wait for the old load and get its value.
        assertThat(a.get("k", slow)).isEqualTo("new");
        release.countDown();

        assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo("old");
        assertThat(joiner.get(10, TimeUnit.SECONDS)).isEqualTo("old");
        assertThat(calls).hasValue(2);
    }

    @Test
    void aLoaderThrowingACheckedExceptionSneakilyReleasesTheReadersWaitingForIt() throws Exception {
        ReplicatedCache<String, String> a = cache(replica("a"));
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Function<String, String> failing = key -> {
            loading.countDown();
            block(release);
            return ReplicatedCacheTest.<String, RuntimeException>sneakyThrow(new java.io.IOException("disk gone"));
        };
        Future<String> first = threads.submit(() -> a.get("k", failing));
        assertThat(loading.await(10, TimeUnit.SECONDS)).isTrue();
        Future<String> joiner = threads.submit(() -> a.get("k", failing));
        await().until(() -> a.stats().misses() == 2);

        release.countDown();

        assertThatThrownBy(() -> first.get(10, TimeUnit.SECONDS)).hasRootCauseMessage("disk gone");
        assertThatThrownBy(() -> joiner.get(10, TimeUnit.SECONDS))
                .hasMessageContaining("The loader of cache 'users' failed");
    }

    @SuppressWarnings("unchecked")
    private static <T, E extends Throwable> T sneakyThrow(Throwable t) throws E {
        throw (E) t;
    }

    @Test
    void aPeerThatLeavesMembershipWithoutItsCacheSayingGoodbyeIsForgottenWithAFlush() {
        LocalCluster.LocalReplica ra = replica("a");
        LocalCluster.LocalReplica rb = replica("b");
        cache(ra);
        ReplicatedCache<String, String> b = cache(rb, o -> o.membership(rb.membership()));
        await().until(() -> b.peers().contains(ra.id()));
        source.put("k", "v1");
        read(b, "k");
        long flushesBefore = b.stats().flushes();

        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        Logger logger = (Logger) LoggerFactory.getLogger(ReplicatedCache.class);
        logger.addAppender(logs);
        try {
            ra.membership().close(); // a's cache never said goodbye: its last invalidations may not have arrived

            // (a's cache still runs here, so its next heartbeat makes b wait for it again; the flush is the point)
            await().until(() -> b.stats().flushes() > flushesBefore);
            assertThat(logs.list)
                    .anySatisfy(e -> assertThat(e.getFormattedMessage())
                            .contains("left membership without its cache saying goodbye"));
        } finally {
            logger.detachAppender(logs);
        }
    }

    @Test
    void invalidateInATransactionWithReplicationOffIsRefusedWithTheAlternative() {
        ReplicatedCache<String, String> a = cache(replica("a"), o -> o.replication(false));
        Connection connection = (Connection) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {Connection.class}, (proxy, method, args) -> {
                    throw new AssertionError("the cache must refuse before touching the connection");
                });

        assertThatThrownBy(() -> a.invalidate(connection, "k"))
                .hasMessageContaining("replication off")
                .hasMessageContaining("invalidateOnCommit");
    }

    @Test
    void loaderFailureAndNullAreNotCached() {
        ReplicatedCache<String, String> a = cache(replica("a"));
        assertThatThrownBy(() -> a.get("k", key -> {
                    throw new IllegalStateException("database down");
                }))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("database down");
        assertThat(a.get("k", key -> null)).isNull();
        assertThat(a.getIfPresent("k")).isNull();
        assertThat(a.stats().loadFailures()).isEqualTo(1);
    }

    @Test
    void aSilentlyLostInvalidationIsRepairedByAFlushAtTheNextMessage() {
        LocalCluster.LocalReplica ra = replica("a");
        LocalCluster.LocalReplica rb = replica("b");
        ReplicatedCache<String, String> a = cache(ra);
        ReplicatedCache<String, String> b = cache(rb);
        await().until(() -> b.peers().contains(ra.id())); // a's sequence is being tracked from here on
        source.put("k", "v1");
        read(b, "k");

        cluster.dropNext(rb.id(), 1);
        source.put("k", "v2");
        a.invalidate("k");

        // The next heartbeat from a carries a sequence number one past the lost invalidation.
        await().untilAsserted(() -> assertThat(read(b, "k")).isEqualTo("v2"));
        assertThat(b.stats().gapsDetected()).isGreaterThanOrEqualTo(1);
        assertThat(b.stats().flushes()).isGreaterThanOrEqualTo(1);
        assertThat(b.stats().remoteInvalidations()).isZero();
    }

    @Test
    void aForgedSequenceGapFlushes() {
        LocalCluster.LocalReplica rb = replica("b");
        ReplicatedCache<String, String> b = cache(rb);
        source.put("k", "v1");
        read(b, "k");
        EnvelopeCodec codec = EnvelopeCodec.builder("cachetest").build();
        ReplicaId forger = ReplicaId.random("forger");
        byte[] heartbeat = {'H', 0, 0, 0, 0};

        cluster.inject(rb.id(), codec.encode(envelope(forger, 1, heartbeat)));
        await().until(() -> b.peers().contains(forger));
        assertThat(b.getIfPresent("k")).isEqualTo("v1");
        cluster.inject(rb.id(), codec.encode(envelope(forger, 5, heartbeat)));

        await().untilAsserted(() -> assertThat(b.stats().gapsDetected()).isEqualTo(1));
        assertThat(b.stats().flushes()).isEqualTo(1);
        assertThat(b.getIfPresent("k")).isNull();
    }

    @Test
    void anOriginFirstHeardMidStreamFlushesBecauseItsEarlierMessagesCannotBeAccountedFor() {
        LocalCluster.LocalReplica rb = replica("b");
        ReplicatedCache<String, String> b = cache(rb);
        source.put("k", "v1");
        read(b, "k");
        EnvelopeCodec codec = EnvelopeCodec.builder("cachetest").build();
        byte[] heartbeat = {'H', 0, 0, 0, 0};

        cluster.inject(rb.id(), codec.encode(envelope(ReplicaId.random("newcomer"), 1, heartbeat)));
        await().until(() -> b.peers().size() == 1);
        assertThat(b.stats().flushes()).isZero(); // sequence 1: nothing came before it

        cluster.inject(rb.id(), codec.encode(envelope(ReplicaId.random("veteran"), 17, heartbeat)));
        await().until(() -> b.peers().size() == 2);
        assertThat(b.stats().flushes()).isEqualTo(1);
        assertThat(b.getIfPresent("k")).isNull();
    }

    private static Envelope envelope(ReplicaId origin, long sequence, byte[] payload) {
        return Envelope.of(
                Envelope.Kind.MESSAGE,
                "cachetest",
                origin,
                42,
                sequence,
                Instant.now(),
                ReplicatedCache.TOPIC_PREFIX + "users",
                Map.of(),
                payload);
    }

    @Test
    void anIsolatedReplicaBypassesItsCacheAfterTheBoundThenFlushesWhenHealed() {
        LocalCluster.LocalReplica ra = replica("a");
        LocalCluster.LocalReplica rb = replica("b");
        ReplicatedCache<String, String> a = cache(ra);
        ReplicatedCache<String, String> b = cache(rb);
        connected(a, b);
        source.put("k", "v1");
        read(b, "k");
        await().until(() -> b.peers().contains(ra.id()));

        cluster.isolate(rb.id());
        source.put("k", "v2");
        a.invalidate("k"); // never reaches b

        await().atMost(Duration.ofSeconds(5)).until(() -> !b.isServing());
        assertThat(read(b, "k")).isEqualTo("v2");
        assertThat(b.getIfPresent("k")).isNull();
        assertThat(b.stats().bypassedReads()).isGreaterThanOrEqualTo(2);
        assertThat(b.health().status()).isEqualTo(Health.Status.DEGRADED);
        assertThat(b.health().reason()).startsWith("reads bypass the cache");

        cluster.heal(rb.id());
        await().until(b::isServing);
        assertThat(b.health().isHealthy()).isTrue();
        assertThat(read(b, "k")).isEqualTo("v2");
        assertThat(b.getIfPresent("k")).isEqualTo("v2");
    }

    @Test
    void aPeerWhoseMessagesStopArrivingMakesTheOthersBypass() {
        LocalCluster.LocalReplica ra = replica("a");
        LocalCluster.LocalReplica rb = replica("b");
        cache(ra);
        ReplicatedCache<String, String> b = cache(rb);
        await().until(() -> b.peers().size() == 1);
        await().until(() -> b.peers().contains(ra.id()));
        assertThat(b.isServing()).isTrue();

        // a's outgoing path breaks; b's own backplane stays healthy and cannot tell.
        cluster.isolate(ra.id());

        await().atMost(Duration.ofSeconds(5)).until(() -> !b.isServing());
        assertThat(rb.backplane().health().isHealthy()).isTrue();
        assertThat(b.health().reason()).contains("nothing heard from replica " + ra.id());
    }

    @Test
    void aPeerThatClosesCleanlyIsNoLongerWaitedFor() {
        LocalCluster.LocalReplica ra = replica("a");
        LocalCluster.LocalReplica rb = replica("b");
        ReplicatedCache<String, String> a = cache(ra);
        ReplicatedCache<String, String> b = cache(rb);
        connected(a, b);
        await().until(() -> b.peers().contains(ra.id()));
        long flushesBefore = b.stats().flushes();

        a.close();

        await().until(() -> b.peers().isEmpty());
        await().during(BOUND.multipliedBy(2)).until(b::isServing);
        assertThat(b.stats().flushes()).isEqualTo(flushesBefore);
    }

    @Test
    void aPeerThatCrashesIsForgottenWhenMembershipExpiresItAndTheCacheIsFlushed() {
        LocalCluster.LocalReplica ra = replica("a");
        LocalCluster.LocalReplica rb = replica("b");
        cache(ra);
        ReplicatedCache<String, String> b = cache(rb, o -> o.membership(rb.membership()));
        await().until(() -> b.peers().size() == 1);
        source.put("k", "v1");
        await().until(() -> b.peers().contains(ra.id()));
        read(b, "k");
        long flushesBefore = b.stats().flushes();

        cluster.crash(ra.id());

        await().until(() -> b.peers().isEmpty());
        assertThat(b.stats().flushes()).isEqualTo(flushesBefore + 1);
        assertThat(b.isServing()).isTrue();
        assertThat(b.getIfPresent("k")).isNull();
    }

    /**
     * The flake of the test above, made certain: a heartbeat the crashed replica sent before it crashed,
     * delivered after membership reported it gone, made it a peer again, so the cache waited for it and
     * flushed a second time when it expired.
     */
    @Test
    void aMessageOfAReplicaThatLeftMembership_deliveredLate_doesNotMakeItAPeerAgain() {
        LocalCluster.LocalReplica ra = replica("a");
        LocalCluster.LocalReplica rb = replica("b");
        cache(ra);
        ReplicatedCache<String, String> b = cache(rb, o -> o.membership(rb.membership()));
        AtomicReference<Envelope> lastFromA = new AtomicReference<>();
        rb.backplane().subscribe(ReplicatedCache.TOPIC_PREFIX + "users", envelope -> {
            if (envelope.origin().equals(ra.id())) {
                lastFromA.set(envelope);
            }
        });
        await().until(() -> b.peers().contains(ra.id()) && lastFromA.get() != null);
        cluster.crash(ra.id());
        await().until(() -> b.peers().isEmpty());
        long flushes = b.stats().flushes();

        // a's next heartbeat, in its stream, as if it had been sent just before the crash.
        Envelope last = lastFromA.get();
        EnvelopeCodec codec = EnvelopeCodec.builder("cachetest").build();
        byte[] heartbeat = {'H', 0, 0, 0, 0};
        cluster.inject(
                rb.id(),
                codec.encode(Envelope.of(
                        Envelope.Kind.MESSAGE,
                        "cachetest",
                        ra.id(),
                        last.epoch(),
                        last.sequence() + 1,
                        Instant.now(),
                        last.topic(),
                        Map.of(),
                        heartbeat)));
        ReplicaId marker = ReplicaId.random("marker");
        cluster.inject(rb.id(), codec.encode(envelope(marker, 1, heartbeat)));
        await().until(() -> b.peers().contains(marker)); // delivered in order: the late heartbeat came first

        assertThat(b.peers()).doesNotContain(ra.id());
        assertThat(b.stats().flushes()).isEqualTo(flushes);
    }

    @Test
    void serveStaleKeepsAnsweringFromTheCacheAndSaysSo() {
        LocalCluster.LocalReplica ra = replica("a");
        LocalCluster.LocalReplica rb = replica("b");
        cache(ra);
        ReplicatedCache<String, String> b = cache(rb, o -> o.policy(StalenessPolicy.SERVE_STALE));
        await().until(() -> b.peers().size() == 1);
        source.put("k", "v1");
        read(b, "k");
        await().until(() -> b.peers().contains(ra.id()));

        cluster.isolate(rb.id());
        source.put("k", "v2");

        await().atMost(Duration.ofSeconds(5)).until(() -> b.health().status() == Health.Status.DEGRADED);
        assertThat(b.health().reason()).startsWith("serving possibly stale values");
        assertThat(read(b, "k")).isEqualTo("v1");
    }

    @Test
    void invalidateOnCommitAnnouncesOnlyCommittedChanges() {
        ReplicatedCache<String, String> a = cache(replica("a"));
        ReplicatedCache<String, String> b = cache(replica("b"));
        connected(a, b);
        source.put("rolled", "r1");
        source.put("done", "d1");
        read(b, "rolled");
        read(b, "done");

        try (PendingInvalidation pending = a.invalidateOnCommit("rolled")) {
            assertThat(pending).isNotNull(); // the transaction rolls back: committed() is never called
        }
        try (PendingInvalidation pending = a.invalidateOnCommit("done")) {
            source.put("done", "d2");
            pending.committed();
        }

        await().untilAsserted(() -> assertThat(b.getIfPresent("done")).isNull());
        // Invalidations from a arrive in order: the rolled-back one would have come first.
        assertThat(b.getIfPresent("rolled")).isEqualTo("r1");
        assertThat(b.stats().remoteInvalidations()).isEqualTo(1);
    }

    @Test
    void invalidateInATransactionNeedsATransactionalBackplane() {
        ReplicatedCache<String, String> a = cache(replica("a"));
        Connection connection = (Connection) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {Connection.class}, (proxy, method, args) -> {
                    throw new AssertionError("the cache must refuse before touching the connection");
                });

        assertThatThrownBy(() -> a.invalidate(connection, "k"))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("inprocess backplane does not support it")
                .hasMessageContaining("invalidateOnCommit");
    }

    @Test
    void replicationOffStaysLocalAndWarnsWhenASecondReplicaAppears() {
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        Logger logger = (Logger) LoggerFactory.getLogger(ReplicatedCache.class);
        logger.addAppender(logs);
        try {
            LocalCluster.LocalReplica ra = replica("a");
            ChorusConfig off = ChorusConfig.from(Map.of(ChorusConfig.CACHE_REPLICATION, "off")::get);
            ReplicatedCache<String, String> a = cache(ra, o -> o.config(off).membership(ra.membership()));
            source.put("k", "v1");
            read(a, "k");
            assertThat(a.health().isHealthy()).isTrue();

            ReplicatedCache<String, String> b = cache(replica("b"));
            read(b, "k");
            a.invalidate("k");

            await().until(() -> a.health().status() == Health.Status.DEGRADED);
            assertThat(a.health().reason()).contains("replication is off but 2 replicas");
            assertThat(logs.list)
                    .anySatisfy(e -> assertThat(e.getFormattedMessage()).contains("has replication off"));
            await().during(Duration.ofMillis(300)).until(() -> "v1".equals(b.getIfPresent("k")));
        } finally {
            logger.detachAppender(logs);
        }
    }

    @Test
    void badOptionsAreRefusedWithTheFix() {
        LocalCluster.LocalReplica ra = replica("a");
        assertThatThrownBy(() -> ReplicatedCache.builder(ra.backplane(), "has space", KeyCodec.strings()))
                .hasMessageContaining("Cache name 'has space' is not valid");
        assertThatThrownBy(() -> ReplicatedCache.builder(ra.backplane(), "c", KeyCodec.strings())
                        .stalenessBound(Duration.ofMillis(500))
                        .heartbeatInterval(Duration.ofSeconds(1))
                        .build())
                .hasMessageContaining("must be zero or at least twice the heartbeat interval");
        assertThatThrownBy(() -> ReplicatedCache.builder(ra.backplane(), "c", KeyCodec.strings())
                        .stalenessBound(Duration.ofSeconds(-1)))
                .hasMessageContaining("stalenessBound must be zero or positive");
    }

    @Test
    void zeroBoundServesOnlyWhileHealthy() {
        LocalCluster.LocalReplica ra = replica("a");
        ReplicatedCache<String, String> a = cache(ra, o -> o.stalenessBound(Duration.ZERO));
        source.put("k", "v1");
        await().until(a::isServing);
        read(a, "k");
        assertThat(a.getIfPresent("k")).isEqualTo("v1");

        cluster.isolate(ra.id());

        await().atMost(Duration.ofSeconds(2)).until(() -> !a.isServing());
        assertThat(a.getIfPresent("k")).isNull();
    }

    @Test
    void statsBindToMicrometer() {
        ReplicatedCache<String, String> a = cache(replica("a"));
        source.put("k", "v1");
        read(a, "k");
        read(a, "k");
        a.invalidate("k");
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry =
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry();

        new CacheMetrics(a).bindTo(registry);

        assertThat(registry.get("chorus.cache.reads")
                        .tags("cache", "users", "result", "hit")
                        .functionCounter()
                        .count())
                .isEqualTo(1);
        assertThat(registry.get("chorus.cache.reads")
                        .tags("result", "miss")
                        .functionCounter()
                        .count())
                .isEqualTo(1);
        assertThat(registry.get("chorus.cache.invalidations")
                        .tags("origin", "local")
                        .functionCounter()
                        .count())
                .isEqualTo(1);
        assertThat(registry.get("chorus.cache.serving").gauge().value()).isEqualTo(1);
    }

    @Test
    void keyCodecsRoundTripAndNameTheProblem() {
        assertThat(KeyCodec.longs().decode(KeyCodec.longs().encode(42L))).isEqualTo(42L);
        java.util.UUID id = java.util.UUID.randomUUID();
        assertThat(KeyCodec.uuids().decode(KeyCodec.uuids().encode(id))).isEqualTo(id);
        assertThatThrownBy(() -> KeyCodec.longs().decode("abc")).hasMessageContaining("'abc' is not a long");
    }

    private static void block(CountDownLatch latch) {
        try {
            if (!latch.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError("latch never released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}

package dev.chorus.bench;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.cache.CacheStats;
import dev.chorus.cache.KeyCodec;
import dev.chorus.cache.ReplicatedCache;
import dev.chorus.local.LocalCluster;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.UnaryOperator;

/**
 * Two Chorus {@link ReplicatedCache} replicas, A and B, each on its own backplane replica of one transport,
 * in front of a {@code ConcurrentHashMap} both share as the source of truth (so no database is measured): A
 * puts into the map and calls {@code invalidate}, B reads with {@code get(key, source::get)}. Default cache
 * settings apart from the size, which holds every key.
 */
final class ChorusCacheSubject implements PropagationSubject {

    static final String IN_PROCESS = "chorus in-process";
    static final String POSTGRES = "chorus postgres";
    static final String REDIS = "chorus redis";

    private static final String CACHE = "bench";
    private static final long MAXIMUM_SIZE = 100_000;
    private static final long PEERS_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final String name;
    private final ConcurrentHashMap<String, Long> source = new ConcurrentHashMap<>();
    private final List<AutoCloseable> resources;
    private final ReplicaId replicaA;
    private final ReplicaId replicaB;
    private final ReplicatedCache<String, Long> cacheA;
    private final ReplicatedCache<String, Long> cacheB;
    private CacheStats phaseStart;

    private ChorusCacheSubject(String name, Backplane a, Backplane b, List<AutoCloseable> resources) {
        this.name = name;
        this.resources = resources;
        this.replicaA = a.replica();
        this.replicaB = b.replica();
        this.cacheA = cache(a);
        try {
            this.cacheB = cache(b);
        } catch (RuntimeException e) {
            cacheA.close();
            throw e;
        }
        this.phaseStart = cacheB.stats();
    }

    private static ReplicatedCache<String, Long> cache(Backplane backplane) {
        return ReplicatedCache.<String, Long>builder(backplane, CACHE, KeyCodec.strings())
                .maximumSize(MAXIMUM_SIZE)
                .build();
    }

    /** Two replicas of one {@link LocalCluster}. */
    static ChorusCacheSubject inProcess() {
        LocalCluster cluster = LocalCluster.create("bench");
        LocalCluster.LocalReplica a = cluster.join(ReplicaId.random("a"));
        LocalCluster.LocalReplica b = cluster.join(ReplicaId.random("b"));
        return start(IN_PROCESS, a.backplane(), b.backplane(), List.of(b, a));
    }

    /** Two {@code PostgresBackplane} replicas, default settings, on a channel of their own. */
    static ChorusCacheSubject postgres(BenchPostgres postgres) {
        String channel = postgres.uniqueChannel("cache");
        BenchPostgres.Replica a = postgres.replica("a", channel, UnaryOperator.identity());
        try {
            BenchPostgres.Replica b = postgres.replica("b", channel, UnaryOperator.identity());
            return start(POSTGRES, a.backplane(), b.backplane(), List.of(b, a));
        } catch (RuntimeException e) {
            a.close();
            throw e;
        }
    }

    /** Two {@code RedisBackplane} replicas, default settings, under a prefix of their own. */
    static ChorusCacheSubject redis(BenchRedis redis) {
        String prefix = redis.uniquePrefix("cache");
        BenchRedis.Replica a = redis.replica("a", prefix);
        try {
            BenchRedis.Replica b = redis.replica("b", prefix);
            return start(REDIS, a.backplane(), b.backplane(), List.of(b, a));
        } catch (RuntimeException e) {
            a.close();
            throw e;
        }
    }

    private static ChorusCacheSubject start(String name, Backplane a, Backplane b, List<AutoCloseable> resources) {
        ChorusCacheSubject subject;
        try {
            subject = new ChorusCacheSubject(name, a, b, resources);
        } catch (RuntimeException e) {
            closeAll(resources);
            throw e;
        }
        try {
            subject.awaitPeers();
            return subject;
        } catch (RuntimeException e) {
            subject.close();
            throw e;
        }
    }

    /**
     * Waits until each cache has heard the other's heartbeat and B answers from its cache: until then B's
     * reads bypass the cache and go to the source, which would time the source, not propagation.
     */
    private void awaitPeers() {
        long deadline = System.nanoTime() + PEERS_TIMEOUT_NANOS;
        while (!cacheA.peers().contains(replicaB) || !cacheB.peers().contains(replicaA) || !cacheB.isServing()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException(name + ": the two caches did not hear each other within "
                        + TimeUnit.NANOSECONDS.toSeconds(PEERS_TIMEOUT_NANOS) + " s; B: " + cacheB.health());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void startPhase() {
        phaseStart = cacheB.stats();
    }

    /** What B's cache did in the phase: a bypassed read or a flush would mean the row measured the source. */
    @Override
    public String notes() {
        CacheStats now = cacheB.stats();
        return String.format(
                Locale.ROOT,
                "B: %,d hits, %,d misses, %,d bypassed reads, %,d invalidations heard, %,d flushes, %,d gaps,"
                        + " %,d stale fills prevented",
                now.hits() - phaseStart.hits(),
                now.misses() - phaseStart.misses(),
                now.bypassedReads() - phaseStart.bypassedReads(),
                now.remoteInvalidations() - phaseStart.remoteInvalidations(),
                now.flushes() - phaseStart.flushes(),
                now.gapsDetected() - phaseStart.gapsDetected(),
                now.staleFillsPrevented() - phaseStart.staleFillsPrevented());
    }

    @Override
    public void write(String key, long version) {
        source.put(key, version);
        cacheA.invalidate(key);
    }

    @Override
    public long read(String key) {
        Long version = cacheB.get(key, source::get);
        return version == null ? -1 : version;
    }

    @Override
    public void close() {
        List<AutoCloseable> all = new ArrayList<>();
        all.add(cacheB);
        all.add(cacheA);
        all.addAll(resources);
        closeAll(all);
    }

    private static void closeAll(List<AutoCloseable> resources) {
        RuntimeException failure = null;
        for (AutoCloseable resource : resources) {
            try {
                resource.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new IllegalStateException("could not close " + resource, e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}

package dev.chorus.bench;

import com.hazelcast.spi.properties.ClusterProperty;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Invalidation propagation: a write through one replica's cache, timed until the next read on another
 * replica returns the new value, for each Chorus transport and for the near caches of Hazelcast and Redisson
 * in the same run. {@link PropagationDriver} does the timing; each variant is a {@link PropagationSubject}.
 */
final class CachePropagationScenario implements Scenario {

    static final String NAME = "cache-propagation";

    /** System property: writes per second (default {@value #DEFAULT_RATE}). */
    static final String RATE_PROPERTY = "chorus.bench.cache.rate";
    /** System property: how many keys the writes rotate over (default {@value #DEFAULT_KEYS}). */
    static final String KEYS_PROPERTY = "chorus.bench.cache.keys";
    /** System property: comma-separated prefixes of the variants to run, for example {@code chorus,redisson}. */
    static final String VARIANTS_PROPERTY = "chorus.bench.cache.variants";

    static final int DEFAULT_RATE = 1_000;
    static final int DEFAULT_KEYS = 1_000;

    /** Three times Hazelcast's default batch flush period, so its slowest invalidation still counts. */
    private static final long GIVE_UP_NANOS = TimeUnit.SECONDS.toNanos(30);

    /** Which shared server a variant needs. */
    private enum Server {
        NONE,
        REDIS,
        POSTGRES
    }

    /** A variant: its name, the server it needs, and how to start it once that server is there. */
    private record Candidate(String variant, Server server, Starter starter) {}

    /** Starts a subject on the servers of this run. */
    @FunctionalInterface
    private interface Starter {
        PropagationSubject start(Servers servers) throws Exception;
    }

    private final Predicate<String> variants;
    private final int rate;
    private final int keys;

    /** Every variant, at the rate and key count the system properties give. */
    CachePropagationScenario() {
        this(
                selected(System.getProperty(VARIANTS_PROPERTY, "")),
                Integer.getInteger(RATE_PROPERTY, DEFAULT_RATE),
                Integer.getInteger(KEYS_PROPERTY, DEFAULT_KEYS));
    }

    /** Variants whose name starts with one of the comma-separated {@code prefixes}; all when blank. */
    private static Predicate<String> selected(String prefixes) {
        List<String> wanted = Arrays.stream(prefixes.split(","))
                .map(String::strip)
                .filter(prefix -> !prefix.isEmpty())
                .toList();
        return variant -> wanted.isEmpty() || wanted.stream().anyMatch(variant::startsWith);
    }

    /** Only the variants {@code variants} accepts; for tests. */
    CachePropagationScenario(Predicate<String> variants, int rate, int keys) {
        if (rate <= 0 || keys <= 0) {
            throw new IllegalArgumentException("rate and keys must be positive: " + rate + ", " + keys);
        }
        this.variants = variants;
        this.rate = rate;
        this.keys = keys;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "write on replica A → replica B's next read returns it";
    }

    @Override
    public String legend() {
        return """
                Two replicas of one cache in this JVM. A writer thread writes on A at a fixed rate on an absolute \
                schedule, rotating over %,d keys, each write a new version number; just before A's write call it \
                hands (key, version, t0) to one observer thread, which reads every written key on B through B's \
                cache, once per round with a %d µs park between rounds, until B returns that version or newer. \
                Latency: the `nanoTime` after the read that saw it − t0. Every key is written and read on B \
                before timing starts, so B holds it in its cache and only the product's own invalidation can make \
                B's read return the new value. Each variant preloads, writes for a warmup, then for the measured \
                period. messages: writes measured; msgs/s: writes per second achieved; loss: writes B had not \
                shown after %d s (*stale reads never resolved*).

                **chorus …**: `ReplicatedCache` A and B over one backplane per replica; the source of truth is a \
                `ConcurrentHashMap` both share (so the database is not measured); A puts into it then calls \
                `invalidate(key)`, B calls `get(key, source::get)`. Default cache settings (staleness bound, \
                heartbeats, policy BYPASS) but for the size, which holds every key; timing starts once each cache \
                has heard the other's heartbeat and B serves from its cache, and the notes count what B's cache did \
                in the measured phase (a bypassed read would have gone to the source). In-process: two replicas of \
                one `LocalCluster`; postgres and redis: two backplanes with default settings, each with its own \
                connections. **hazelcast near cache**: two embedded members \
                (TCP join on loopback), an `IMap` with a near cache (`invalidateOnChange` true, format OBJECT, \
                `cacheLocalEntries` false) on each; A calls `set`, B `get`. Only keys whose partition A owns are \
                used: B caches no entry it owns itself. *defaults*: invalidations are batched per map and sent \
                when %s of them are queued or every %s s (`hazelcast.map.invalidation.batch.*`); *batching \
                off*: `hazelcast.map.invalidation.batch.enabled=false`, each invalidation sent at once. \
                **redisson RLocalCachedMap**: two Redisson clients with default settings on the bench's Redis; \
                sync strategy INVALIDATE; A calls `fastPut`, B `get`.
                """.formatted(
                        keys,
                        TimeUnit.NANOSECONDS.toMicros(PropagationDriver.POLL_NANOS),
                        TimeUnit.NANOSECONDS.toSeconds(GIVE_UP_NANOS),
                        ClusterProperty.MAP_INVALIDATION_MESSAGE_BATCH_SIZE.getDefaultValue(),
                        ClusterProperty.MAP_INVALIDATION_MESSAGE_BATCH_FREQUENCY_SECONDS.getDefaultValue());
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        long warmup = TimeUnit.MILLISECONDS.toNanos(config.pick(2_000, 500));
        long measured = TimeUnit.MILLISECONDS.toNanos(config.pick(10_000, 2_000));
        String mode = String.format(Locale.ROOT, "%,d writes/s, %,d keys", rate, keys);
        List<ResultRow> rows = new ArrayList<>();
        try (Servers servers = new Servers()) {
            for (Candidate candidate : candidates()) {
                if (!variants.test(candidate.variant())) {
                    continue;
                }
                ResultRow skipped = servers.unavailable(candidate.server(), candidate.variant());
                if (skipped != null) {
                    rows.add(skipped);
                    continue;
                }
                rows.add(measure(candidate, servers, mode, warmup, measured));
            }
        }
        return rows;
    }

    private List<Candidate> candidates() {
        List<Candidate> candidates = new ArrayList<>();
        candidates.add(
                new Candidate(ChorusCacheSubject.IN_PROCESS, Server.NONE, servers -> ChorusCacheSubject.inProcess()));
        candidates.add(new Candidate(
                ChorusCacheSubject.POSTGRES,
                Server.POSTGRES,
                servers -> ChorusCacheSubject.postgres(servers.postgres())));
        candidates.add(new Candidate(
                ChorusCacheSubject.REDIS, Server.REDIS, servers -> ChorusCacheSubject.redis(servers.redis())));
        candidates.add(new Candidate(HazelcastSubject.DEFAULTS, Server.NONE, servers -> HazelcastSubject.start(true)));
        candidates.add(
                new Candidate(HazelcastSubject.BATCHING_OFF, Server.NONE, servers -> HazelcastSubject.start(false)));
        candidates.add(
                new Candidate(RedissonSubject.NAME, Server.REDIS, servers -> RedissonSubject.start(servers.redis())));
        return candidates;
    }

    private ResultRow measure(Candidate candidate, Servers servers, String mode, long warmup, long measured) {
        try (PropagationSubject subject = candidate.starter().start(servers)) {
            PropagationDriver driver = new PropagationDriver(subject, keys, rate, GIVE_UP_NANOS);
            driver.preload();
            driver.run(warmup);
            return driver.run(measured).toRow(NAME, subject.name(), mode, subject.notes());
        } catch (Exception e) {
            return new ResultRow(
                    NAME, candidate.variant(), mode, 0, 0, Double.NaN, Double.NaN, Double.NaN, 0, "FAILED: " + e);
        }
    }

    /** The shared servers of one run, each opened when a variant first needs it. */
    private static final class Servers implements AutoCloseable {
        private @Nullable BenchRedis redis;
        private BenchRedis.@Nullable Unavailable redisUnavailable;
        private @Nullable BenchPostgres postgres;
        private BenchPostgres.@Nullable Unavailable postgresUnavailable;

        /** A row saying why {@code variant} is skipped, or null when its server is there. */
        @Nullable
        ResultRow unavailable(Server server, String variant) {
            ResultRow row = switch (server) {
                case NONE -> null;
                case REDIS -> {
                    openRedis();
                    yield redisUnavailable == null ? null : redisUnavailable.row(NAME);
                }
                case POSTGRES -> {
                    openPostgres();
                    yield postgresUnavailable == null ? null : postgresUnavailable.row(NAME);
                }
            };
            return row == null
                    ? null
                    : new ResultRow(
                            NAME,
                            row.variant() + " (" + variant + ")",
                            row.mode(),
                            0,
                            0,
                            Double.NaN,
                            Double.NaN,
                            Double.NaN,
                            0,
                            row.notes());
        }

        BenchRedis redis() {
            openRedis();
            if (redis == null) {
                throw new IllegalStateException("no Redis", redisUnavailable);
            }
            return redis;
        }

        BenchPostgres postgres() {
            openPostgres();
            if (postgres == null) {
                throw new IllegalStateException("no PostgreSQL", postgresUnavailable);
            }
            return postgres;
        }

        private void openRedis() {
            if (redis == null && redisUnavailable == null) {
                try {
                    redis = BenchRedis.open();
                } catch (BenchRedis.Unavailable e) {
                    redisUnavailable = e;
                }
            }
        }

        private void openPostgres() {
            if (postgres == null && postgresUnavailable == null) {
                try {
                    postgres = BenchPostgres.open();
                } catch (BenchPostgres.Unavailable e) {
                    postgresUnavailable = e;
                }
            }
        }

        @Override
        public void close() {
            if (postgres != null) {
                postgres.close();
            }
        }
    }
}

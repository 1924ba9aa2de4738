package dev.chorus.cache;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;
import java.util.function.ToLongFunction;

/**
 * Publishes a {@link ReplicatedCache}'s {@link CacheStats} to Micrometer, tagged {@code cache=<name>}.
 *
 * <p>Micrometer is an optional dependency of chorus-core: add {@code io.micrometer:micrometer-core} to use
 * this class. Meters: {@code chorus.cache.reads} (result hit / miss / bypassed), {@code chorus.cache.loads}
 * (result success / failure), {@code chorus.cache.invalidations} (origin local / remote), {@code
 * chorus.cache.gaps}, {@code chorus.cache.flushes}, {@code chorus.cache.stale.fills.prevented}, and gauges {@code chorus.cache.size} and {@code chorus.cache.serving}
 * (1 while reads are answered from the cache, 0 while it is bypassed).
 */
public final class CacheMetrics implements MeterBinder {

    private final ReplicatedCache<?, ?> cache;
    private final Tags tags;

    /** Metrics of {@code cache} with the {@code cache} tag and {@code extraTags}. */
    public CacheMetrics(ReplicatedCache<?, ?> cache, Tag... extraTags) {
        this.cache = Objects.requireNonNull(cache, "cache");
        this.tags = Tags.of("cache", cache.name()).and(extraTags);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        counter(registry, "chorus.cache.reads", "reads answered from the cache", CacheStats::hits, "result", "hit");
        counter(registry, "chorus.cache.reads", "reads that had to load", CacheStats::misses, "result", "miss");
        counter(
                registry,
                "chorus.cache.reads",
                "reads that skipped the cache because invalidations could not be proved to flow",
                CacheStats::bypassedReads,
                "result",
                "bypassed");
        counter(registry, "chorus.cache.loads", "loader calls that returned", CacheStats::loads, "result", "success");
        counter(
                registry,
                "chorus.cache.loads",
                "loader calls that threw",
                CacheStats::loadFailures,
                "result",
                "failure");
        counter(
                registry,
                "chorus.cache.invalidations",
                "invalidations made on this replica",
                CacheStats::localInvalidations,
                "origin",
                "local");
        counter(
                registry,
                "chorus.cache.invalidations",
                "invalidations heard from other replicas",
                CacheStats::remoteInvalidations,
                "origin",
                "remote");
        counter(registry, "chorus.cache.gaps", "sequence gaps and new epochs seen", CacheStats::gapsDetected);
        counter(registry, "chorus.cache.flushes", "whole-cache flushes", CacheStats::flushes);
        counter(
                registry,
                "chorus.cache.stale.fills.prevented",
                "loaded values not kept because their key was invalidated during the load",
                CacheStats::staleFillsPrevented);
        counter(
                registry,
                "chorus.cache.evictions",
                "entries evicted to keep the count or byte bound",
                CacheStats::evictions);
        Gauge.builder("chorus.cache.size", cache, c -> c.stats().size())
                .description("entries held")
                .tags(tags)
                .register(registry);
        Gauge.builder("chorus.cache.serving", cache, c -> c.isServing() ? 1 : 0)
                .description("1 while reads are answered from the cache, 0 while it is bypassed")
                .tags(tags)
                .register(registry);
    }

    private void counter(
            MeterRegistry registry,
            String name,
            String description,
            ToLongFunction<CacheStats> value,
            String... extraTags) {
        FunctionCounter.builder(name, cache, c -> value.applyAsLong(c.stats()))
                .description(description)
                .tags(tags.and(extraTags))
                .register(registry);
    }
}

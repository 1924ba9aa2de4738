package dev.chorus.cache;

/** What a replicated cache does once it can no longer prove that it hears every invalidation. */
public enum StalenessPolicy {
    /**
     * The default: reads skip the cache and go to the loader until invalidations are heard again; the
     * cache is then flushed. No read returns a value staler than the staleness bound.
     */
    BYPASS,
    /**
     * Keep serving cached values, however stale; only for data where availability beats correctness.
     * The cache's health says it is serving possibly stale values while this happens.
     */
    SERVE_STALE
}

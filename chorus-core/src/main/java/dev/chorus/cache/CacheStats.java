package dev.chorus.cache;

/**
 * Counters of one replicated cache on this replica since it was built.
 *
 * @param hits reads answered from the cache
 * @param misses reads that had to load (the key was absent)
 * @param loads loader calls that returned (a coalesced load counts once)
 * @param loadFailures loader calls that threw
 * @param localInvalidations invalidations made on this replica (keys, plus one per invalidateAll)
 * @param remoteInvalidations invalidations heard from other replicas (keys, plus one per invalidateAll)
 * @param gapsDetected sequence gaps and new epochs seen on the cache's topic
 * @param flushes whole-cache flushes for any reason (remote invalidateAll excluded)
 * @param bypassedReads reads that skipped the cache because invalidations could not be proved to flow
 * @param staleFillsPrevented loaded values not kept because their key was invalidated during the load
 * @param size entries held now (approximate)
 * @param evictions entries evicted to keep the count or byte bound
 */
public record CacheStats(
        long hits,
        long misses,
        long loads,
        long loadFailures,
        long localInvalidations,
        long remoteInvalidations,
        long gapsDetected,
        long flushes,
        long bypassedReads,
        long staleFillsPrevented,
        long size,
        long evictions) {

    /** Hits over all reads answered either way, 0 when there were none. */
    public double hitRate() {
        long reads = hits + misses + bypassedReads;
        return reads == 0 ? 0 : (double) hits / reads;
    }
}

package dev.chorus.cache;

import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.ToIntFunction;
import org.jspecify.annotations.Nullable;

/*
 * Caffeine bounds a cache by count or by weight, not both. With a weigher, each entry weighs its bytes but
 * at least maxBytes / maxSize, so that a total weight within maxBytes also means at most maxSize entries:
 * small values are bounded by the count, large ones by their bytes.
 */

/** A replicated cache's count and byte bounds, as one Caffeine eviction policy. */
final class CacheBounds<V> {

    private final long maximumSize;
    private final long maximumBytes;
    private final @Nullable ToIntFunction<? super V> weigher;

    CacheBounds(long maximumSize, long maximumBytes, @Nullable ToIntFunction<? super V> weigher) {
        this.maximumSize = maximumSize;
        this.maximumBytes = maximumBytes;
        this.weigher = weigher;
    }

    /** A Caffeine builder with these bounds, counting evictions in {@code evictions}. */
    <K> Caffeine<K, V> caffeine(LongAdder evictions) {
        @SuppressWarnings("unchecked")
        Caffeine<K, V> caffeine = (Caffeine<K, V>) (Caffeine<?, ?>) Caffeine.newBuilder();
        caffeine.evictionListener((K key, V value, com.github.benmanes.caffeine.cache.RemovalCause cause) -> {
            if (cause.wasEvicted()) {
                evictions.increment();
            }
        });
        ToIntFunction<? super V> bytes = weigher;
        if (bytes == null || maximumSize == 0) {
            return caffeine.maximumSize(maximumSize);
        }
        long floor = Math.max(1, ceilDiv(maximumBytes, maximumSize));
        int least = (int) Math.min(Integer.MAX_VALUE, floor);
        return caffeine.maximumWeight(maximumBytes)
                .weigher((K key, V value) -> Math.max(least, Math.max(0, bytes.applyAsInt(value))));
    }

    /** The byte bound, or -1 when values are not weighed. */
    long maximumBytes() {
        return weigher == null ? -1 : maximumBytes;
    }

    private static long ceilDiv(long a, long b) {
        return -Math.floorDiv(-a, b);
    }
}

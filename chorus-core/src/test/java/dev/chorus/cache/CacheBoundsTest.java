package dev.chorus.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ChorusConfig;
import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.local.LocalCluster;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Issue 20: a replicated cache with a weigher is bounded in bytes as well as in entries. */
class CacheBoundsTest {

    private static final int MIB = 1 << 20;

    private final LocalCluster cluster = LocalCluster.create("cachebounds");
    private final LocalCluster.LocalReplica replica = cluster.join(ReplicaId.random("a"));

    @AfterEach
    void close() {
        replica.close();
    }

    private ReplicatedCache<String, byte[]> cache(ReplicatedCache.Builder<String, byte[]> builder) {
        return builder.build();
    }

    @Test
    void valuesPastTheByteBound_areEvicted_andCounted() {
        try (ReplicatedCache<String, byte[]> cache =
                cache(ReplicatedCache.<String, byte[]>builder(replica.backplane(), "blobs", KeyCodec.strings())
                        .maximumBytes(8L * MIB)
                        .weigher(value -> value.length))) {
            for (int i = 0; i < 100; i++) {
                cache.put("k" + i, new byte[MIB]);
            }
            cache.cleanUp();

            assertThat(cache.stats().size()).isLessThanOrEqualTo(8);
            assertThat(cache.stats().evictions()).isGreaterThanOrEqualTo(92);
        }
    }

    @Test
    void smallValues_stayBoundedByTheEntryCount() {
        try (ReplicatedCache<String, byte[]> cache =
                cache(ReplicatedCache.<String, byte[]>builder(replica.backplane(), "small", KeyCodec.strings())
                        .maximumSize(10)
                        .maximumBytes(8L * MIB)
                        .weigher(value -> value.length))) {
            for (int i = 0; i < 100; i++) {
                cache.put("k" + i, new byte[1]);
            }
            cache.cleanUp();

            assertThat(cache.stats().size()).isLessThanOrEqualTo(10);
        }
    }

    @Test
    void withoutAWeigher_onlyTheCountApplies() {
        try (ReplicatedCache<String, byte[]> cache =
                cache(ReplicatedCache.<String, byte[]>builder(replica.backplane(), "opaque", KeyCodec.strings())
                        .maximumBytes(MIB))) {
            for (int i = 0; i < 4; i++) {
                cache.put("k" + i, new byte[MIB]);
            }
            cache.cleanUp();

            assertThat(cache.stats().size()).isEqualTo(4);
        }
    }

    @Test
    void theByteBoundComesFromTheEnvironment_andIsValidated() {
        ChorusConfig config = ChorusConfig.from(Map.of(ChorusConfig.CACHE_MAX_BYTES, "2MiB")::get);
        assertThat(config.cacheMaxBytes()).isEqualTo(2L * MIB);
        try (ReplicatedCache<String, byte[]> cache =
                cache(ReplicatedCache.<String, byte[]>builder(replica.backplane(), "env", KeyCodec.strings())
                        .config(config)
                        .weigher(value -> value.length))) {
            for (int i = 0; i < 10; i++) {
                cache.put("k" + i, new byte[MIB]);
            }
            cache.cleanUp();
            assertThat(cache.stats().size()).isLessThanOrEqualTo(2);
        }
        assertThatThrownBy(() -> ChorusConfig.from(Map.of(ChorusConfig.CACHE_MAX_BYTES, "lots")::get))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining(ChorusConfig.CACHE_MAX_BYTES)
                .hasMessageContaining("MiB");
    }
}

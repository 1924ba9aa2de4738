package dev.chorus.bench;

import io.lettuce.core.RedisURI;
import org.redisson.Redisson;
import org.redisson.api.RLocalCachedMap;
import org.redisson.api.RedissonClient;
import org.redisson.api.options.LocalCachedMapOptions;
import org.redisson.client.codec.LongCodec;
import org.redisson.client.codec.StringCodec;
import org.redisson.codec.CompositeCodec;
import org.redisson.config.Config;
import org.redisson.config.SingleServerConfig;

/**
 * Redisson's {@code RLocalCachedMap} on the bench's Redis server with two Redisson clients, A and B: A puts
 * (the hash in Redis is the source of truth; Redisson publishes an invalidation on the map's topic in the
 * same script), B reads through its local cache, which drops an entry when the invalidation arrives.
 */
final class RedissonSubject implements PropagationSubject {

    static final String NAME = "redisson RLocalCachedMap";

    private final RedissonClient clientA;
    private final RedissonClient clientB;
    private final RLocalCachedMap<String, Long> mapA;
    private final RLocalCachedMap<String, Long> mapB;

    private RedissonSubject(RedissonClient clientA, RedissonClient clientB, String mapName) {
        this.clientA = clientA;
        this.clientB = clientB;
        this.mapA = clientA.getLocalCachedMap(options(mapName));
        this.mapB = clientB.getLocalCachedMap(options(mapName));
    }

    /** Connects two clients to the bench's Redis server and opens the map under a name of this run. */
    static RedissonSubject start(BenchRedis redis) {
        Config config = config(redis.uri());
        RedissonClient a = Redisson.create(config);
        try {
            RedissonClient b = Redisson.create(config(redis.uri()));
            return new RedissonSubject(a, b, redis.uniquePrefix("redisson"));
        } catch (RuntimeException e) {
            a.shutdown();
            throw e;
        }
    }

    /** Redisson's default options apart from the codec: sync strategy INVALIDATE, unbounded local cache. */
    private static LocalCachedMapOptions<String, Long> options(String mapName) {
        return LocalCachedMapOptions.<String, Long>name(mapName)
                .syncStrategy(LocalCachedMapOptions.SyncStrategy.INVALIDATE)
                // Plain strings and numbers in Redis rather than Redisson's default Kryo serialization.
                .codec(new CompositeCodec(StringCodec.INSTANCE, LongCodec.INSTANCE));
    }

    /** A client on the server {@code uri} names, default settings otherwise. */
    private static Config config(RedisURI uri) {
        Config config = new Config();
        SingleServerConfig server = config.useSingleServer()
                .setAddress((uri.isSsl() ? "rediss://" : "redis://") + uri.getHost() + ":" + uri.getPort())
                .setDatabase(uri.getDatabase());
        if (uri.getUsername() != null) {
            server.setUsername(uri.getUsername());
        }
        if (uri.getPassword() != null) {
            server.setPassword(new String(uri.getPassword()));
        }
        return config;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void write(String key, long version) {
        mapA.fastPut(key, version);
    }

    @Override
    public long read(String key) {
        Long version = mapB.get(key);
        return version == null ? -1 : version;
    }

    @Override
    public void close() {
        try {
            mapA.delete();
        } finally {
            clientB.shutdown();
            clientA.shutdown();
        }
    }
}

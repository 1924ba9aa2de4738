package dev.chorus.bench;

import dev.chorus.ReplicaId;
import dev.chorus.Secrets;
import dev.chorus.redis.RedisBackplane;
import dev.chorus.redis.RedisConnector;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.protocol.ProtocolVersion;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The Redis server the {@code redis-*} scenarios run against ({@code -Dchorus.bench.redis=URL}), with one
 * scenario's key prefix {@code bench-<random>} so runs sharing a server never hear each other.
 */
final class BenchRedis {

    /** System property naming the server, in any form Lettuce's {@code RedisURI} accepts. */
    static final String PROPERTY = "chorus.bench.redis";

    static final String DEFAULT_URL = "redis://127.0.0.1:6379";

    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(3);
    private static final Pattern PUBLISH_CALLS = Pattern.compile("cmdstat_publish:calls=(\\d+)");

    private final String url;
    private final String masked;
    private final String prefix;
    private int channels;

    /** Thrown by {@link #open} when the server cannot be used; {@link #row} says so in the results. */
    static final class Unavailable extends Exception {
        private final String masked;

        Unavailable(String masked, String reason, @Nullable Throwable cause) {
            super(reason, cause);
            this.masked = masked;
        }

        /** The single row a scenario reports instead of its measurements. */
        ResultRow row(String scenario) {
            return new ResultRow(
                    scenario,
                    "skipped: no Redis at " + masked,
                    "–",
                    0,
                    0,
                    Double.NaN,
                    Double.NaN,
                    Double.NaN,
                    0,
                    getMessage() + " (set -D" + PROPERTY + "=redis://:pass@host:port)");
        }
    }

    private BenchRedis(String url, String prefix) {
        this.url = url;
        this.masked = Secrets.maskUrl(url);
        this.prefix = prefix;
    }

    /** The configured server URL, {@value #DEFAULT_URL} unless {@code -Dchorus.bench.redis} says otherwise. */
    static String configuredUrl() {
        return System.getProperty(PROPERTY, DEFAULT_URL);
    }

    /** Checks that the configured server answers PING and picks a fresh prefix. */
    static BenchRedis open() throws Unavailable {
        String url = configuredUrl();
        String masked = Secrets.maskUrl(url);
        RedisURI uri;
        try {
            uri = RedisURI.create(url);
        } catch (RuntimeException e) {
            throw new Unavailable(masked, "invalid URL: " + e.getMessage(), e);
        }
        uri.setTimeout(PROBE_TIMEOUT);
        ClientResources resources = DefaultClientResources.builder()
                .ioThreadPoolSize(1)
                .computationThreadPoolSize(1)
                .build();
        RedisClient client = RedisClient.create(resources);
        client.setOptions(ClientOptions.builder().autoReconnect(false).build());
        try (StatefulRedisConnection<String, String> c = client.connect(uri)) {
            c.sync().ping();
        } catch (RuntimeException e) {
            throw new Unavailable(masked, String.valueOf(e.getMessage()), e);
        } finally {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            resources.shutdown(0, 2, TimeUnit.SECONDS);
        }
        return new BenchRedis(
                url, "bench-" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36));
    }

    /** Why the configured server cannot be used, or null when it can; for tests that need it. */
    static @Nullable String unavailableReason() {
        try {
            open();
            return null;
        } catch (Unavailable e) {
            return "no Redis at " + e.masked + ": " + e.getMessage();
        }
    }

    /** This run's prefix of every channel. */
    String prefix() {
        return prefix;
    }

    /** A prefix no other run and no other fan-out of this run uses, for Chorus's channel. */
    String uniquePrefix(String hint) {
        return prefix + "." + hint + "-" + ++channels;
    }

    /** A channel no other run and no other fan-out of this run uses, for the raw baselines. */
    String uniqueChannel(String hint) {
        return uniquePrefix(hint) + ":raw";
    }

    /** The parsed URI of the server. */
    RedisURI uri() {
        return RedisURI.create(url);
    }

    /**
     * A Lettuce client on its own resources (2 I/O threads, like each {@link RedisConnector}), RESP2 as Chorus
     * uses, and no reconnect: a subscriber the server cuts off stays cut off and shows up as loss.
     */
    RedisClient rawClient() {
        ClientResources resources = DefaultClientResources.builder()
                .ioThreadPoolSize(2)
                .computationThreadPoolSize(2)
                .build();
        RedisClient client = RedisClient.create(resources);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(false)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .protocolVersion(ProtocolVersion.RESP2)
                .build());
        return client;
    }

    /** Shuts down a client from {@link #rawClient} and its resources. */
    static void shutdown(RedisClient client) {
        ClientResources resources = client.getResources();
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }

    /**
     * PUBLISH commands the server has executed since it started, from {@code INFO commandstats}; empty when
     * the server does not say. Counts every client of the server, not only this run.
     */
    OptionalLong publishCalls() {
        RedisClient client = rawClient();
        try (StatefulRedisConnection<String, String> c = client.connect(uri())) {
            Matcher m = PUBLISH_CALLS.matcher(c.sync().info("commandstats"));
            return m.find() ? OptionalLong.of(Long.parseLong(m.group(1))) : OptionalLong.empty();
        } catch (RuntimeException e) {
            return OptionalLong.empty();
        } finally {
            shutdown(client);
        }
    }

    /** A Chorus replica with its own {@link RedisConnector} under {@code prefix}, default settings. */
    Replica replica(String name, String prefix) {
        RedisConnector connector = RedisConnector.builder(url).prefix(prefix).build();
        try {
            RedisBackplane backplane = RedisBackplane.builder(connector)
                    .replica(ReplicaId.random(name))
                    .secret(BenchSecret.SECRET)
                    .build();
            return new Replica(connector, backplane);
        } catch (RuntimeException e) {
            connector.close();
            throw e;
        }
    }

    @Override
    public String toString() {
        return masked + " prefix " + prefix;
    }

    /** One Chorus replica: a backplane and the connector it alone uses. */
    record Replica(RedisConnector connector, RedisBackplane backplane) implements BenchReplica {
        @Override
        public void close() {
            backplane.close();
            connector.close();
        }
    }
}

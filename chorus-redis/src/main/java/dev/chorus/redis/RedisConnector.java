package dev.chorus.redis;

import dev.chorus.ChorusConfig;
import dev.chorus.ChorusException;
import dev.chorus.Secrets;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.protocol.ProtocolVersion;
import io.lettuce.core.pubsub.PubSubCommandHandler;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.NettyCustomizer;
import io.lettuce.core.resource.Transports;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongConsumer;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * One Redis deployment as Chorus uses it: the URL (every form Lettuce takes: {@code redis://}, {@code
 * rediss://} for TLS, {@code redis-sentinel://}, with user and password), the Lettuce clients and the prefix
 * under which Chorus's channel and keys live.
 *
 * <p>Shared by the backplane, membership and leases of a replica; close it after them. The backplane's
 * connections are not reconnected by Lettuce: Chorus reconnects them itself so it can verify the
 * subscription before reporting healthy. Membership and lease commands use a second client that Lettuce
 * reconnects on its own.
 */
public final class RedisConnector implements AutoCloseable {

    /** Default prefix of the channel and every key. */
    public static final String DEFAULT_PREFIX = ChorusConfig.DEFAULT_CHANNEL;
    /** Default time one command may take. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);

    private static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:\\-]{0,47}");

    private final String url;
    private final RedisURI uri;
    private final String prefix;
    private final Duration commandTimeout;
    private final ClientResources resources;
    private final RedisClient managedClient;
    private final RedisClient commandClient;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile @Nullable StatefulRedisConnection<String, String> commands;
    private volatile @Nullable StatefulRedisConnection<String, String> leaseTakes;
    private volatile @Nullable EventLoopGroup eventLoops;
    private volatile int maxSubscriptionBulkBytes = Integer.MAX_VALUE;
    private volatile LongConsumer onTooLarge = size -> {};

    private RedisConnector(Builder builder) {
        this.url = builder.url;
        this.uri = builder.uri;
        this.prefix = builder.prefix;
        this.commandTimeout = builder.commandTimeout;
        this.resources = DefaultClientResources.builder()
                .ioThreadPoolSize(2)
                .computationThreadPoolSize(2)
                .nettyCustomizer(new NettyCustomizer() {
                    @Override
                    public void afterChannelInitialized(Channel channel) {
                        guardIfSubscription(channel);
                    }
                })
                .build();
        SocketOptions socket = SocketOptions.builder()
                .connectTimeout(Duration.ofSeconds(5))
                .keepAlive(true)
                .build();
        this.managedClient = RedisClient.create(resources);
        managedClient.setOptions(ClientOptions.builder()
                .autoReconnect(false)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .protocolVersion(ProtocolVersion.RESP2)
                .socketOptions(socket)
                .timeoutOptions(TimeoutOptions.enabled(commandTimeout))
                .build());
        this.commandClient = RedisClient.create(resources);
        commandClient.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .protocolVersion(ProtocolVersion.RESP2)
                .socketOptions(socket)
                .timeoutOptions(TimeoutOptions.enabled(commandTimeout))
                .build());
    }

    /**
     * Parses {@code url}.
     *
     * @throws ChorusException naming the URL (password masked) and what is wrong with it
     */
    public static Builder builder(String url) {
        return new Builder(url);
    }

    /** The URL with its password masked, safe to log. */
    public String describe() {
        return Secrets.maskUrl(url);
    }

    /** The prefix of Chorus's channel and keys. */
    public String prefix() {
        return prefix;
    }

    /** {@code prefix:name}: a key or channel of this deployment. */
    public String key(String name) {
        return prefix + ":" + name;
    }

    /** The time one command may take. */
    public Duration commandTimeout() {
        return commandTimeout;
    }

    /** The parsed URI. */
    public RedisURI uri() {
        return uri;
    }

    /** A new binary pub/sub connection that Lettuce does not reconnect; the caller closes it. */
    StatefulRedisPubSubConnection<byte[], byte[]> connectPubSub(RedisCodec<byte[], byte[]> codec) {
        return managedClient.connectPubSub(codec, uri);
    }

    /** A new binary command connection that Lettuce does not reconnect; the caller closes it. */
    StatefulRedisConnection<byte[], byte[]> connectBinary() {
        return managedClient.connect(ByteArrayCodec.INSTANCE, uri);
    }

    /**
     * The Netty event loop that runs on {@code thread}, or null when none does. A connection's command
     * callbacks run on its event loop; work handed to that loop reaches the connection's socket without
     * another thread hop.
     */
    @Nullable
    Executor eventLoopOf(Thread thread) {
        EventLoopGroup group = eventLoops;
        if (group == null) {
            synchronized (this) {
                group = eventLoops;
                if (group == null) {
                    // The same group the clients' connections run on: the provider keeps one per type.
                    group = resources.eventLoopGroupProvider().allocate(Transports.eventLoopGroupClass());
                    eventLoops = group;
                }
            }
        }
        for (EventExecutor loop : group) {
            if (loop.inEventLoop(thread)) {
                return loop;
            }
        }
        return null;
    }

    /**
     * The shared string connection for membership and leases. Made once and then reconnected by Lettuce
     * itself: while it reconnects, commands fail fast (they are rejected) instead of opening another
     * connection per outage.
     */
    public StatefulRedisConnection<String, String> commands() {
        StatefulRedisConnection<String, String> c = commands;
        if (c == null) {
            synchronized (this) {
                c = commands;
                if (c == null) {
                    c = connectCommands();
                    commands = c;
                }
            }
        }
        return c;
    }

    /**
     * A second string connection, reconnected like {@link #commands()}, for lease takes: they end in {@code WAIT},
     * which blocks the connection it runs on, and renewals or heartbeats must not queue behind it.
     */
    StatefulRedisConnection<String, String> leaseTakes() {
        StatefulRedisConnection<String, String> c = leaseTakes;
        if (c == null) {
            synchronized (this) {
                c = leaseTakes;
                if (c == null) {
                    c = connectCommands();
                    leaseTakes = c;
                }
            }
        }
        return c;
    }

    /** Whether the URL names Sentinels, which fail over to replicas. */
    boolean isSentinel() {
        return !uri.getSentinels().isEmpty();
    }

    private StatefulRedisConnection<String, String> connectCommands() {
        if (closed.get()) {
            throw new ChorusException("The Redis connector for " + describe() + " is closed");
        }
        return commandClient.connect(StringCodec.UTF8, uri);
    }

    /**
     * Subscription connections opened from now on close themselves when a bulk string is announced longer than
     * {@code maxBulkBytes}, before it is read, and tell {@code onTooLarge} its announced size (see {@link
     * RespBulkGuard}).
     */
    void guardSubscriptions(int maxBulkBytes, LongConsumer onTooLarge) {
        this.onTooLarge = Objects.requireNonNull(onTooLarge, "onTooLarge");
        this.maxSubscriptionBulkBytes = maxBulkBytes;
    }

    private void guardIfSubscription(Channel channel) {
        ChannelHandlerContext lettuce = channel.pipeline().context(PubSubCommandHandler.class);
        if (lettuce != null) {
            channel.pipeline()
                    .addBefore(
                            lettuce.name(),
                            "chorus-bulk-guard",
                            new RespBulkGuard(() -> maxSubscriptionBulkBytes, size -> onTooLarge.accept(size)));
        }
    }

    /** Registers a listener for connection state changes of the backplane's connections. */
    void addManagedListener(io.lettuce.core.RedisConnectionStateListener listener) {
        managedClient.addListener(listener);
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        EventLoopGroup group = eventLoops;
        if (group != null) {
            resources.eventLoopGroupProvider().release(group, 0, 2, TimeUnit.SECONDS);
        }
        StatefulRedisConnection<String, String> c = commands;
        if (c != null) {
            c.close();
        }
        StatefulRedisConnection<String, String> takes = leaseTakes;
        if (takes != null) {
            takes.close();
        }
        managedClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        commandClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }

    @Override
    public String toString() {
        return "RedisConnector{" + describe() + " prefix " + prefix + "}";
    }

    /** Builds a {@link RedisConnector}. */
    public static final class Builder {
        private final String url;
        private final RedisURI uri;
        private String prefix = DEFAULT_PREFIX;
        private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;

        private Builder(String url) {
            this.url = Objects.requireNonNull(url, "url");
            String masked = Secrets.maskUrl(url);
            try {
                this.uri = RedisURI.create(url);
            } catch (RuntimeException e) {
                throw new ChorusException(
                        "Redis URL '" + masked + "' is not valid: " + e.getMessage()
                                + " (for example redis://:secret@cache.internal:6379/0, rediss://... for TLS, or"
                                + " redis-sentinel://sentinel-1:26379,sentinel-2:26379/0#mymaster)",
                        e);
            }
        }

        /**
         * The prefix of the channel and every key, so deployments can share one Redis: letters, digits and
         * {@code _ . : -}, at most 48 characters; {@value #DEFAULT_PREFIX} by default.
         */
        public Builder prefix(String prefix) {
            if (prefix == null || !PREFIX.matcher(prefix).matches()) {
                throw new ChorusException("Invalid Redis prefix '" + prefix + "': use letters, digits and _ . : -,"
                        + " starting with a letter or digit, at most 48 characters (for example 'orders_prod')");
            }
            this.prefix = prefix;
            return this;
        }

        /** The time one command may take; 5 s by default. */
        public Builder commandTimeout(Duration commandTimeout) {
            this.commandTimeout = Objects.requireNonNull(commandTimeout, "commandTimeout");
            return this;
        }

        /** The connector; it connects lazily, so this succeeds while Redis is down. */
        public RedisConnector build() {
            return new RedisConnector(this);
        }
    }
}

package dev.chorus.redis;

import dev.chorus.Backoff;
import dev.chorus.ChorusConfig;
import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.internal.AbstractBackplane;
import dev.chorus.internal.Checks;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.Frames;
import dev.chorus.internal.Pause;
import dev.chorus.internal.WireSecurity;
import dev.chorus.wire.DecodeResult;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import dev.chorus.wire.Rejection;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Two connections per replica, both reconnected by us rather than by Lettuce:
 *
 *  subscriber (virtual thread chorus-redis-subscriber):
 *    connect -> SUBSCRIBE <prefix>:bp -> publish a canary and wait for it on this subscription -> HEALTHY
 *    -> wait until lost -> DEGRADED -> backoff -> again.
 *    Clients have been known to come back from a reconnect without their subscription; the canary round
 *    trip is the proof that messages flow again, so HEALTHY is never reported on a connect alone.
 *    "Lost" is: the socket closed (server restart, CLIENT KILL, the output-buffer limit cutting a slow
 *    subscriber), a PING on the subscription unanswered for pingTimeout (a frozen link), or a periodic
 *    canary not back within canaryTimeout (subscribed but not receiving). Each ends in a fresh connection.
 *
 *  publisher (RedisPublisher): frames of many envelopes per PUBLISH on a second connection, drained on its
 *    Netty event loop with a bound on unanswered PUBLISHes; publish() only enqueues.
 */

/**
 * The Redis backplane: pub/sub on {@code <prefix>:bp}, with every (re)subscription verified by a canary
 * round trip before health says HEALTHY.
 *
 * <pre>{@code
 * RedisConnector redis = RedisConnector.builder(System.getenv("REDIS_URL")).prefix("orders").build();
 * RedisBackplane backplane = RedisBackplane.builder(redis).replica(id).build();
 * }</pre>
 */
public final class RedisBackplane extends AbstractBackplane {

    /** Default canary period. */
    public static final Duration DEFAULT_CANARY_INTERVAL = Duration.ofSeconds(2);
    /** Default time a canary may take before the subscription is renewed. */
    public static final Duration DEFAULT_CANARY_TIMEOUT = Duration.ofSeconds(5);
    /** Default PING period on the subscription. */
    public static final Duration DEFAULT_PING_INTERVAL = Duration.ofSeconds(1);
    /** Default time a PING may take before the subscription connection is dropped. */
    public static final Duration DEFAULT_PING_TIMEOUT = Duration.ofSeconds(3);
    /** Default number of PUBLISH commands awaiting their reply at once. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 64;
    /** Default number of envelopes that may wait for the publisher before publishes fail. */
    public static final int DEFAULT_PUBLISH_QUEUE_CAPACITY = 100_000;

    private static final Logger LOG = LoggerFactory.getLogger(RedisBackplane.class);
    private static final String CANARY_TOPIC = "_chorus.canary";

    private final RedisConnector redis;
    private final byte[] channel;
    private final String channelName;
    private final Backoff backoff;
    private final Duration canaryInterval;
    private final Duration canaryTimeout;
    private final Duration pingInterval;
    private final Duration pingTimeout;
    private final CountDownLatch closed = new CountDownLatch(1);
    private final FrameCodec frameCodec;
    private final AtomicLong canaryNonce =
            new AtomicLong(ThreadLocalRandom.current().nextLong());
    private final Object canaryLock = new Object();
    private long canaryWaitingFor;
    private @Nullable CompletableFuture<Long> canaryArrived;
    private volatile long lastCanaryRoundTripNanos = -1;
    private volatile @Nullable StatefulRedisPubSubConnection<byte[], byte[]> subscription;
    private volatile @Nullable CompletableFuture<String> lostSignal;
    private final RedisPublisher publisher;
    private final Thread subscriberThread;

    private RedisBackplane(Builder b) {
        super(
                "redis",
                b.replica,
                EnvelopeCodec.builder(b.redis.prefix())
                        .secret(b.secret)
                        .maxBytes(b.maxEnvelopeBytes)
                        .build(),
                b.clock,
                AbstractBackplane.DEFAULT_SUBSCRIPTION_CAPACITY,
                b.receiveQueueBytes,
                b.replayWindow);
        this.redis = b.redis;
        this.channelName = redis.key("bp");
        this.channel = channelName.getBytes(StandardCharsets.UTF_8);
        this.backoff = b.backoff;
        this.canaryInterval = b.canaryInterval;
        this.canaryTimeout = b.canaryTimeout;
        this.pingInterval = b.pingInterval;
        this.pingTimeout = b.pingTimeout;
        this.publisher = new RedisPublisher(
                redis, channel, channelName, backoff, b.maxInFlight, b.publishQueueCapacity, b.sendQueueBytes, closed);
        this.frameCodec = new FrameCodec(b.maxEnvelopeBytes);
        redis.guardSubscriptions(frameCodec.maxFrameBytes(), this::announcedTooLarge);
        redis.addManagedListener(new RedisConnectionStateListener() {
            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> connection) {
                if (connection == subscription) {
                    CompletableFuture<String> lost = lostSignal;
                    if (lost != null) {
                        lost.complete("the subscription connection to " + redis.describe() + " was closed (server"
                                + " restart, CLIENT KILL, or the output-buffer limit cut a slow subscriber)");
                    }
                }
            }
        });
        LOG.info(
                "Redis backplane starting for replica {} at {} on channel '{}'",
                b.replica,
                redis.describe(),
                channelName);
        this.subscriberThread =
                Thread.ofVirtual().name("chorus-redis-subscriber").start(this::subscribeLoop);
    }

    /** A builder for a backplane on {@code redis}. */
    public static Builder builder(RedisConnector redis) {
        return new Builder(redis);
    }

    /** A backplane configured from {@code config} (secret, size limit) for {@code replica}. */
    public static RedisBackplane from(ChorusConfig config, RedisConnector redis, ReplicaId replica) {
        return builder(redis)
                .replica(replica)
                .secret(config.clusterSecret().orElse(null))
                .allowUnsigned(config.allowUnsigned())
                .replayWindow(config.replayWindow())
                .maxEnvelopeBytes(config.maxEnvelopeBytes())
                .sendQueueBytes(config.sendQueueBytes())
                .receiveQueueBytes(config.receiveQueueBytes())
                .build();
    }

    /** The Redis channel this backplane publishes and subscribes on. */
    public String channel() {
        return channelName;
    }

    // ---- publishing ----

    @Override
    protected CompletableFuture<Void> transmit(Envelope envelope, byte[] bytes) {
        return publisher.publish(bytes);
    }

    // ---- subscribing ----

    private void subscribeLoop() {
        Backoff.Attempts attempts = backoff.attempts();
        while (closed.getCount() > 0) {
            String reason;
            Throwable cause = null;
            try {
                reason = subscribeUntilLost();
                attempts.reset();
            } catch (Exception e) {
                Throwable root = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
                reason = "cannot subscribe to '" + channelName + "' at " + redis.describe() + ": "
                        + FailureLog.describe(root);
                cause = root;
            } finally {
                StatefulRedisPubSubConnection<byte[], byte[]> c = subscription;
                subscription = null;
                if (c != null) {
                    c.closeAsync();
                }
            }
            if (closed.getCount() == 0) {
                return;
            }
            connectionLost(reason, cause);
            if (!Pause.unlessClosed(closed, attempts.next())) {
                return;
            }
        }
    }

    private String subscribeUntilLost() throws Exception {
        CompletableFuture<String> lost = new CompletableFuture<>();
        lostSignal = lost;
        StatefulRedisPubSubConnection<byte[], byte[]> c = redis.connectPubSub(frameCodec);
        subscription = c;
        c.addListener(new RedisPubSubAdapter<>() {
            @Override
            public void message(byte[] from, byte[] message) {
                onFrame(message);
            }
        });
        if (!c.isOpen()) {
            return "the subscription connection closed while opening";
        }
        c.async().subscribe(channel).get(redis.commandTimeout().toMillis(), TimeUnit.MILLISECONDS);
        long verifiedIn = canaryRoundTrip();
        if (verifiedIn < 0) {
            return "subscribed to '" + channelName + "' but a canary did not come back within "
                    + canaryTimeout.toMillis() + " ms; subscribing again";
        }
        if (closed.getCount() == 0) {
            return "closed";
        }
        connectionRestored("SUBSCRIBE " + channelName + " at " + redis.describe() + " verified by a canary round trip"
                + " in " + verifiedIn / 1000 + " µs");
        long nextCanary = System.nanoTime() + canaryInterval.toNanos();
        while (true) {
            String why;
            try {
                why = lost.get(pingInterval.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                why = null;
            }
            if (why != null) {
                return why;
            }
            try {
                c.async().ping().get(pingTimeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                return "Redis did not answer a PING on the subscription within " + pingTimeout.toMillis()
                        + " ms (frozen link?)";
            } catch (ExecutionException e) {
                // The connection was closed for a reason already given (a huge message, say): that one is better.
                return lost.isDone()
                        ? lost.getNow("closed")
                        : "a PING on the subscription failed: " + FailureLog.describe(e.getCause());
            }
            if (System.nanoTime() - nextCanary >= 0) {
                if (canaryRoundTrip() < 0) {
                    return "a canary did not come back within " + canaryTimeout.toMillis() + " ms although the"
                            + " subscription answers PING: the subscription was lost; subscribing again";
                }
                nextCanary = System.nanoTime() + canaryInterval.toNanos();
            }
        }
    }

    /** Publishes a canary and waits for it on the subscription; the round trip in nanoseconds, or -1. */
    private long canaryRoundTrip() throws InterruptedException {
        long nonce = canaryNonce.incrementAndGet();
        CompletableFuture<Long> arrived = new CompletableFuture<>();
        synchronized (canaryLock) {
            canaryWaitingFor = nonce;
            canaryArrived = arrived;
        }
        long sent = System.nanoTime();
        byte[] payload = ByteBuffer.allocate(Long.BYTES).putLong(nonce).array();
        publisher.publishCanary(encodeTransportEnvelope(Envelope.Kind.CANARY, CANARY_TOPIC, payload));
        try {
            arrived.get(canaryTimeout.toMillis(), TimeUnit.MILLISECONDS);
            long roundTrip = System.nanoTime() - sent;
            lastCanaryRoundTripNanos = roundTrip;
            return roundTrip;
        } catch (TimeoutException | ExecutionException e) {
            return -1;
        }
    }

    /** On the subscription's event loop: RespBulkGuard closed the connection before reading a huge message. */
    private void announcedTooLarge(long bytes) {
        String what = "a message announced as " + bytes + " bytes on '" + channelName + "' is longer than any frame"
                + " this replica accepts (" + frameCodec.maxFrameBytes() + " bytes: the envelope limit plus framing)";
        rejected(new DecodeResult.Rejected(
                Rejection.TOO_LARGE, what + "; the subscription was closed before reading it and is renewed"));
        CompletableFuture<String> lost = lostSignal;
        if (lost != null) {
            lost.complete(what + ": closed the subscription before reading it");
        }
    }

    private void onFrame(byte[] frame) {
        if (frame == FrameCodec.TOO_LARGE) {
            rejected(new DecodeResult.Rejected(
                    Rejection.TOO_LARGE,
                    "a message of " + frameCodec.lastTooLargeBytes() + " bytes on '" + channelName + "' is longer than"
                            + " any frame this replica accepts (" + frameCodec.maxFrameBytes() + " bytes: the"
                            + " envelope limit plus framing); dropped without copying it"));
            return;
        }
        // Frames.unpack checks every length it reads against the bytes that remain and allocates nothing.
        Frames.unpack(frame, new Frames.Visitor() {
            @Override
            public void envelope(byte[] bytes, int offset, int length) {
                received(bytes, offset, length);
            }

            @Override
            public void malformed(String why) {
                rejected(new DecodeResult.Rejected(
                        Rejection.MALFORMED, "a message on '" + channelName + "' that Chorus did not send: " + why));
            }
        });
    }

    @Override
    protected void onCanary(Envelope envelope) {
        if (!envelope.isFrom(replica()) || envelope.payloadSize() != Long.BYTES) {
            return;
        }
        long nonce = ByteBuffer.wrap(envelope.payload()).getLong();
        synchronized (canaryLock) {
            if (nonce == canaryWaitingFor && canaryArrived != null) {
                canaryArrived.complete(nonce);
            }
        }
    }

    // ---- health and life cycle ----

    @Override
    protected void addHealthDetails(Map<String, Object> details) {
        details.put("redis", redis.describe());
        details.put("channel", channelName);
        publisher.addHealthDetails(details);
        long canary = lastCanaryRoundTripNanos;
        if (canary >= 0) {
            details.put("canaryRoundTripMicros", canary / 1000);
        }
    }

    /** Publishes refused because the send queue was full, since start. */
    public long queueFullRejections() {
        return publisher.queueFullRejections();
    }

    @Override
    protected void doClose() {
        closed.countDown();
        CompletableFuture<String> lost = lostSignal;
        if (lost != null) {
            lost.complete("closed");
        }
        join(subscriberThread);
        publisher.close();
    }

    private static void join(Thread thread) {
        try {
            if (!thread.join(Duration.ofSeconds(5))) {
                thread.interrupt();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Builds a {@link RedisBackplane}. */
    public static final class Builder {
        private final RedisConnector redis;
        private ReplicaId replica = ReplicaId.random();
        private @Nullable Secret secret;
        private boolean allowUnsigned;
        private Duration replayWindow = ChorusConfig.DEFAULT_REPLAY_WINDOW;
        private int maxEnvelopeBytes = ChorusConfig.DEFAULT_MAX_ENVELOPE_BYTES;
        private Duration canaryInterval = DEFAULT_CANARY_INTERVAL;
        private Duration canaryTimeout = DEFAULT_CANARY_TIMEOUT;
        private Duration pingInterval = DEFAULT_PING_INTERVAL;
        private Duration pingTimeout = DEFAULT_PING_TIMEOUT;
        private int maxInFlight = DEFAULT_MAX_IN_FLIGHT;
        private int publishQueueCapacity = DEFAULT_PUBLISH_QUEUE_CAPACITY;
        private long sendQueueBytes = ChorusConfig.DEFAULT_SEND_QUEUE_BYTES;
        private long receiveQueueBytes = ChorusConfig.DEFAULT_RECEIVE_QUEUE_BYTES;
        private Backoff backoff = Backoff.defaults();
        private Clock clock = Clock.systemUTC();

        private Builder(RedisConnector redis) {
            this.redis = Objects.requireNonNull(redis, "redis");
        }

        /** This replica's identity; random by default. */
        public Builder replica(ReplicaId replica) {
            this.replica = Objects.requireNonNull(replica, "replica");
            return this;
        }

        /** Signs every envelope with this secret and requires signatures on every received one. */
        public Builder secret(@Nullable Secret secret) {
            this.secret = secret;
            return this;
        }

        /**
         * Runs without a cluster secret, so anyone who can publish on the channel can inject messages; without
         * this (or a secret) {@link #build()} refuses. Logged at WARN and shown in health.
         */
        public Builder allowUnsigned() {
            return allowUnsigned(true);
        }

        /** Whether this backplane may run without a cluster secret ({@code CHORUS_ALLOW_UNSIGNED}). */
        public Builder allowUnsigned(boolean allowUnsigned) {
            this.allowUnsigned = allowUnsigned;
            return this;
        }

        /**
         * How far a received signed envelope's timestamp may be from this replica's clock before it is
         * refused as a replay; {@link ChorusConfig#DEFAULT_REPLAY_WINDOW} by default.
         */
        public Builder replayWindow(Duration replayWindow) {
            this.replayWindow = Checks.positive("replayWindow", replayWindow);
            return this;
        }

        /** The largest envelope sent or accepted. */
        public Builder maxEnvelopeBytes(int maxEnvelopeBytes) {
            this.maxEnvelopeBytes = maxEnvelopeBytes;
            return this;
        }

        /** How often a canary proves the subscription, and how long it may take. */
        public Builder canary(Duration interval, Duration timeout) {
            this.canaryInterval = Checks.positive("canary interval", interval);
            this.canaryTimeout = Checks.positive("canary timeout", timeout);
            return this;
        }

        /** How often the subscription is pinged, and how long a PING may take. */
        public Builder ping(Duration interval, Duration timeout) {
            this.pingInterval = Checks.positive("ping interval", interval);
            this.pingTimeout = Checks.positive("ping timeout", timeout);
            return this;
        }

        /** PUBLISH commands awaiting a reply at once; 64 by default. */
        public Builder maxInFlight(int maxInFlight) {
            this.maxInFlight = Checks.positive("maxInFlight", maxInFlight);
            return this;
        }

        /** Envelopes that may wait for the publisher before publishes fail; 100,000 by default. */
        public Builder publishQueueCapacity(int capacity) {
            this.publishQueueCapacity = Checks.positive("publishQueueCapacity", capacity);
            return this;
        }

        /**
         * Bytes of envelopes that may wait for the publisher before publishes fail (default 32 MiB,
         * {@value ChorusConfig#SEND_QUEUE_BYTES}).
         */
        public Builder sendQueueBytes(long bytes) {
            this.sendQueueBytes = Checks.positive("sendQueueBytes", bytes);
            return this;
        }

        /**
         * Payload bytes each subscription may have waiting before envelopes are dropped with a Missed signal
         * (default 32 MiB, {@value ChorusConfig#RECEIVE_QUEUE_BYTES}).
         */
        public Builder receiveQueueBytes(long bytes) {
            this.receiveQueueBytes = Checks.positive("receiveQueueBytes", bytes);
            return this;
        }

        /** Reconnect timing; 1 s first, 30 s cap by default. */
        public Builder backoff(Backoff backoff) {
            this.backoff = Objects.requireNonNull(backoff, "backoff");
            return this;
        }

        /** The clock for envelope timestamps. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Starts the backplane: it connects in the background, DEGRADED until its subscription is verified. */
        public RedisBackplane build() {
            WireSecurity.requireSecret("redis", secret, allowUnsigned);
            return new RedisBackplane(this);
        }
    }
}

package dev.chorus.redis;

import dev.chorus.Backoff;
import dev.chorus.ChorusConfig;
import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.backplane.PublishFailedException;
import dev.chorus.internal.AbstractBackplane;
import dev.chorus.internal.Checks;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.Frames;
import dev.chorus.internal.SendQueue;
import dev.chorus.internal.WireSecurity;
import dev.chorus.wire.DecodeResult;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import dev.chorus.wire.Rejection;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
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
 *  publisher: drains the send queue into frames of many envelopes per PUBLISH, with at most maxInFlight
 *    PUBLISHes unanswered. Callers never wait for Redis: publish() only enqueues (and fails at once, counted,
 *    when the queue is full) and, when no drain runs, schedules one. A drain runs on the publish
 *    connection's Netty event loop, so a lone envelope reaches the socket with one thread hop, as a bare
 *    Lettuce PUBLISH from the caller's thread does (a publisher thread of our own was a second hop: measured
 *    at 30-60 µs of p50 and most of p99). It never blocks there: at maxInFlight unanswered, a completion
 *    schedules the next drain. Without a usable connection the drain moves to a virtual thread that
 *    (re)connects with backoff, failing what is queued meanwhile. One drain at a time (the draining flag)
 *    keeps PUBLISH commands in queue order: Lettuce may reorder commands that two threads issue
 *    concurrently on one connection (lettuce#2581).
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
    /** Frames are cut at this size unless a single envelope is larger. */
    static final int MAX_FRAME_BYTES = 64 * 1024;
    /** Envelopes per frame at most, so that a frame's futures complete in reasonable batches. */
    private static final int MAX_FRAME_ENVELOPES = 4_096;

    private static final Logger LOG = LoggerFactory.getLogger(RedisBackplane.class);
    private static final String CANARY_TOPIC = "_chorus.canary";

    private record Outgoing(byte[] envelope, @Nullable CompletableFuture<Void> sent) {}

    private record PublishLink(StatefulRedisConnection<byte[], byte[]> connection, Executor loop) {}

    private final RedisConnector redis;
    private final byte[] channel;
    private final String channelName;
    private final Backoff backoff;
    private final Duration canaryInterval;
    private final Duration canaryTimeout;
    private final Duration pingInterval;
    private final Duration pingTimeout;
    private final int maxInFlight;
    private final SendQueue<Outgoing> queue;
    private final Semaphore inFlight;
    private final CountDownLatch closed = new CountDownLatch(1);
    private final FrameCodec frameCodec;
    private final FailureLog publishFailures = new FailureLog(LOG);
    private final LongAdder queueFullRejections = new LongAdder();
    private final AtomicLong canaryNonce =
            new AtomicLong(ThreadLocalRandom.current().nextLong());
    private final Object canaryLock = new Object();
    private long canaryWaitingFor;
    private @Nullable CompletableFuture<Long> canaryArrived;
    private volatile long lastCanaryRoundTripNanos = -1;
    private volatile @Nullable StatefulRedisPubSubConnection<byte[], byte[]> subscription;
    private volatile @Nullable CompletableFuture<String> lostSignal;
    private volatile @Nullable PublishLink link;
    private final AtomicBoolean draining = new AtomicBoolean();
    private final CompletableFuture<Void> drained = new CompletableFuture<>();
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
        this.maxInFlight = b.maxInFlight;
        this.queue = new SendQueue<>(b.publishQueueCapacity, b.sendQueueBytes, o -> o.envelope().length);
        this.inFlight = new Semaphore(b.maxInFlight);
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
        CompletableFuture<Void> sent = new CompletableFuture<>();
        if (queue.offer(new Outgoing(bytes, sent))) {
            schedule();
        } else {
            queueFullRejections.increment();
            sent.completeExceptionally(new PublishFailedException(
                    "The Redis publish queue is full (" + queue.refusal(bytes.length) + ", " + maxInFlight
                            + " PUBLISH in flight): Redis at " + redis.describe()
                            + " is unreachable or slower than the publish rate. The message reached this"
                            + " replica's subscribers; other replicas will see the gap and repair.",
                    null));
        }
        return sent;
    }

    /** Starts a drain unless one runs: the only way PUBLISH commands are issued. */
    private void schedule() {
        if (queue.isEmpty() || !draining.compareAndSet(false, true)) {
            return;
        }
        PublishLink link = this.link;
        if (link != null && link.connection().isOpen()) {
            try {
                link.loop().execute(this::drain);
                return;
            } catch (RuntimeException e) {
                // The event loop is shutting down (the connector closes): connect afresh, which fails clearly.
                dropLink(link);
            }
        }
        Thread.ofVirtual().name("chorus-redis-publisher").start(this::connectThenDrain);
    }

    /** Runs with the drain flag held and no usable connection: connects with backoff, then drains. */
    private void connectThenDrain() {
        Backoff.Attempts attempts = backoff.attempts();
        while (true) {
            try {
                PublishLink link = connect();
                this.link = link;
                if (closed.getCount() > 0) {
                    try {
                        link.loop().execute(this::drain);
                        return;
                    } catch (RuntimeException e) {
                        // The event loop is shutting down: drain here, which fails what cannot go out.
                    }
                }
                drain();
                return;
            } catch (Exception e) {
                Throwable root = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
                failQueued(root);
                publishFailures.failure(
                        "Redis publisher on '" + channelName + "' cannot reach " + redis.describe()
                                + "; failing queued publishes and retrying",
                        root);
                if (closed.getCount() == 0 || !pause(attempts.next())) {
                    failQueued(root);
                    draining.set(false);
                    drainedOnClose();
                    return;
                }
                if (queue.isEmpty()) {
                    // Nothing to send: the next publish connects again. A drain flag left set would stop it.
                    draining.set(false);
                    if (queue.isEmpty() || !draining.compareAndSet(false, true)) {
                        return;
                    }
                }
            }
        }
    }

    /** A new publish connection and the event loop its callbacks run on. */
    private PublishLink connect() throws Exception {
        StatefulRedisConnection<byte[], byte[]> c = redis.connectBinary();
        try {
            Thread loopThread = c.async()
                    .ping()
                    .thenApply(pong -> Thread.currentThread())
                    .toCompletableFuture()
                    .get(redis.commandTimeout().toMillis(), TimeUnit.MILLISECONDS);
            Executor loop = redis.eventLoopOf(loopThread);
            if (loop == null) {
                // Lettuce completed the PING off its event loop (a publishOnScheduler setup): a virtual
                // thread per drain still keeps one drain at a time.
                loop = command ->
                        Thread.ofVirtual().name("chorus-redis-publisher").start(command);
            }
            return new PublishLink(c, loop);
        } catch (Exception e) {
            c.closeAsync();
            throw e;
        }
    }

    /*
     * Runs with the drain flag held, on the connection's event loop: never blocks. Sends frames while
     * PUBLISH permits last; at maxInFlight unanswered the completion of one schedules the next drain.
     */
    private void drain() {
        while (true) {
            PublishLink link = this.link;
            if (link == null || !link.connection().isOpen()) {
                dropLink(link);
                Thread.ofVirtual().name("chorus-redis-publisher").start(this::connectThenDrain);
                return;
            }
            // A PUBLISH can fail at once (a closed connection): the rest then waits for a new connection
            // rather than failing frame after frame on the dead one.
            while (this.link == link && !queue.isEmpty() && inFlight.tryAcquire()) {
                send(link, takeFrame());
            }
            if (this.link != link && !queue.isEmpty()) {
                continue;
            }
            draining.set(false);
            // A publish or a completion that came after the loop above but before the flag cleared saw the
            // flag set and scheduled nothing: look again.
            if (queue.isEmpty() || inFlight.availablePermits() == 0 || !draining.compareAndSet(false, true)) {
                drainedOnClose();
                return;
            }
        }
    }

    /** Queued envelopes in order, up to a frame's size; only the drain takes from the queue. */
    private List<Outgoing> takeFrame() {
        List<Outgoing> frame = new ArrayList<>();
        int size = Frames.HEADER_BYTES;
        Outgoing next;
        while (frame.size() < MAX_FRAME_ENVELOPES && (next = queue.peek()) != null) {
            int entry = Frames.entryBytes(next.envelope());
            if (!frame.isEmpty() && size + entry > MAX_FRAME_BYTES) {
                break;
            }
            frame.add(queue.poll());
            size += entry;
        }
        return frame;
    }

    private void send(PublishLink link, List<Outgoing> frame) {
        List<byte[]> envelopes = new ArrayList<>(frame.size());
        for (Outgoing outgoing : frame) {
            envelopes.add(outgoing.envelope());
        }
        try {
            link.connection().async().publish(channel, Frames.pack(envelopes)).whenComplete((receivers, failure) -> {
                inFlight.release();
                if (failure == null) {
                    frame.forEach(o -> complete(o, null));
                    publishFailures.recovered("Redis publisher on '" + channelName + "' sends again");
                } else {
                    failed(link, frame, failure);
                }
                schedule();
            });
        } catch (RuntimeException e) {
            inFlight.release();
            failed(link, frame, e);
        }
    }

    private void failed(PublishLink link, List<Outgoing> frame, Throwable failure) {
        frame.forEach(o -> complete(o, failure));
        dropLink(link);
        publishFailures.failure(
                "Redis publisher on '" + channelName + "' could not PUBLISH to " + redis.describe() + "; reconnecting",
                failure);
    }

    private void failQueued(Throwable failure) {
        Outgoing next;
        while ((next = queue.poll()) != null) {
            complete(next, failure);
        }
    }

    private void dropLink(@Nullable PublishLink link) {
        if (link != null && this.link == link) {
            this.link = null;
            link.connection().closeAsync();
        }
    }

    private void drainedOnClose() {
        if (closed.getCount() == 0 && queue.isEmpty()) {
            drained.complete(null);
        }
    }

    private static void complete(Outgoing outgoing, @Nullable Throwable failure) {
        CompletableFuture<Void> sent = outgoing.sent();
        if (sent == null) {
            return;
        }
        if (failure == null) {
            sent.complete(null);
        } else {
            sent.completeExceptionally(new PublishFailedException(
                    "Could not PUBLISH to the other replicas: "
                            + FailureLog.describe(failure) + ". The message reached this replica's subscribers; other"
                            + " replicas will see the gap and repair.",
                    failure));
        }
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
            if (!pause(attempts.next())) {
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
        if (queue.offer(new Outgoing(encodeTransportEnvelope(Envelope.Kind.CANARY, CANARY_TOPIC, payload), null))) {
            schedule();
        }
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
        details.put("publishQueue", queue.size());
        details.put("publishQueueBytes", queue.bytes());
        details.put("publishInFlight", maxInFlight - inFlight.availablePermits());
        details.put("publishQueueFullRejections", queueFullRejections.sum());
        long canary = lastCanaryRoundTripNanos;
        if (canary >= 0) {
            details.put("canaryRoundTripMicros", canary / 1000);
        }
    }

    /** Publishes refused because the send queue was full, since start. */
    public long queueFullRejections() {
        return queueFullRejections.sum();
    }

    private boolean pause(Duration delay) {
        try {
            return !closed.await(delay.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Override
    protected void doClose() {
        closed.countDown();
        CompletableFuture<String> lost = lostSignal;
        if (lost != null) {
            lost.complete("closed");
        }
        join(subscriberThread);
        closePublisher();
    }

    /** Lets queued envelopes and unanswered PUBLISH commands finish (a few seconds at most), then closes. */
    private void closePublisher() {
        try {
            if (!queue.isEmpty() || draining.get()) {
                schedule();
                drained.get(5, TimeUnit.SECONDS);
            }
            inFlight.tryAcquire(maxInFlight, 2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.debug("Redis publisher on '{}' did not finish its queue before closing", channelName, e);
        }
        PublishLink last = link;
        link = null;
        if (last != null) {
            last.connection().close();
        }
        failQueued(new PublishFailedException("the Redis backplane closed", null));
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

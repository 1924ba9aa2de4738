package dev.chorus.redis;

import dev.chorus.Backoff;
import dev.chorus.backplane.PublishFailedException;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.Frames;
import dev.chorus.internal.Pause;
import dev.chorus.internal.SendQueue;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Drains the send queue into frames of many envelopes per PUBLISH, with at most maxInFlight PUBLISHes
 * unanswered. Callers never wait for Redis: publish() only enqueues (and fails at once, counted, when the
 * queue is full) and, when no drain runs, schedules one. A drain runs on the publish connection's Netty event
 * loop, so a lone envelope reaches the socket with one thread hop, as a bare Lettuce PUBLISH from the caller's
 * thread does (a publisher thread of our own was a second hop: measured at 30-60 µs of p50 and most of p99).
 * It never blocks there: at maxInFlight unanswered, a completion schedules the next drain. Without a usable
 * connection the drain moves to a virtual thread that (re)connects with backoff, failing what is queued
 * meanwhile. One drain at a time (the draining flag) keeps PUBLISH commands in queue order: Lettuce may
 * reorder commands that two threads issue concurrently on one connection (lettuce#2581).
 */

/** The publishing side of a {@link RedisBackplane}: its send queue, PUBLISH connection and in-flight bound. */
final class RedisPublisher {

    /** Frames are cut at this size unless a single envelope is larger. */
    static final int MAX_FRAME_BYTES = 64 * 1024;
    /** Envelopes per frame at most, so that a frame's futures complete in reasonable batches. */
    private static final int MAX_FRAME_ENVELOPES = 4_096;

    // The backplane's logger: publish failures stay under the category operators and tests already watch.
    private static final Logger LOG = LoggerFactory.getLogger(RedisBackplane.class);

    private record Outgoing(byte[] envelope, @Nullable CompletableFuture<Void> sent) {}

    private record PublishLink(StatefulRedisConnection<byte[], byte[]> connection, Executor loop) {}

    private final RedisConnector redis;
    private final byte[] channel;
    private final String channelName;
    private final Backoff backoff;
    private final int maxInFlight;
    private final SendQueue<Outgoing> queue;
    private final Semaphore inFlight;
    /** The backplane's: counted down when it closes, which wakes a reconnect backoff and ends the last drain. */
    private final CountDownLatch closed;

    private final FailureLog publishFailures = new FailureLog(LOG);
    private final LongAdder queueFullRejections = new LongAdder();
    private volatile @Nullable PublishLink link;
    private final AtomicBoolean draining = new AtomicBoolean();
    private final CompletableFuture<Void> drained = new CompletableFuture<>();

    RedisPublisher(
            RedisConnector redis,
            byte[] channel,
            String channelName,
            Backoff backoff,
            int maxInFlight,
            int queueCapacity,
            long queueBytes,
            CountDownLatch closed) {
        this.redis = redis;
        this.channel = channel;
        this.channelName = channelName;
        this.backoff = backoff;
        this.maxInFlight = maxInFlight;
        this.queue = new SendQueue<>(queueCapacity, queueBytes, o -> o.envelope().length);
        this.inFlight = new Semaphore(maxInFlight);
        this.closed = closed;
    }

    /** Queues {@code bytes} for the other replicas; the future completes when Redis acknowledged its frame. */
    CompletableFuture<Void> publish(byte[] bytes) {
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

    /** Queues a canary envelope, in order with published ones; dropped silently when the queue is full. */
    void publishCanary(byte[] bytes) {
        if (queue.offer(new Outgoing(bytes, null))) {
            schedule();
        }
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
                if (closed.getCount() == 0 || !Pause.unlessClosed(closed, attempts.next())) {
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

    /** Publishes refused because the send queue was full, since start. */
    long queueFullRejections() {
        return queueFullRejections.sum();
    }

    /** The publisher's part of the backplane's health details. */
    void addHealthDetails(Map<String, Object> details) {
        details.put("publishQueue", queue.size());
        details.put("publishQueueBytes", queue.bytes());
        details.put("publishInFlight", maxInFlight - inFlight.availablePermits());
        details.put("publishQueueFullRejections", queueFullRejections.sum());
    }

    /**
     * Lets queued envelopes and unanswered PUBLISH commands finish (a few seconds at most), then closes; called
     * after the backplane's closed latch was counted down.
     */
    void close() {
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
}

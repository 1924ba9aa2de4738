package dev.chorus.internal;

import dev.chorus.ChorusConfig;
import dev.chorus.Subscription;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.wire.Envelope;
import java.time.Clock;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * One subscriber's bounded delivery queue. Producers (transport threads, publishers) only enqueue; one
 * virtual thread at a time drains, so the subscriber is never called concurrently and sees each origin's
 * envelopes in order. When the queue is full (in envelopes, or in payload bytes: CHORUS_RECEIVE_QUEUE_BYTES)
 * the envelope is dropped and, once per overflow episode, an OVERFLOW marker is queued past the capacity:
 * it sits after every envelope accepted before the drop and before every envelope accepted after it, so
 * the subscriber hears of the loss exactly where it happened, and sequence tracking restarts from there
 * instead of reporting the same loss a second time as a gap. One envelope always fits, however large.
 */

/** A subscription's queue, sequence tracking and delivery thread. */
final class TopicSubscription implements Subscription {

    private static final Logger LOG = LoggerFactory.getLogger(TopicSubscription.class);
    private static final int BATCH = 4096;
    private static final Object OVERFLOW_MARKER = new Object();

    private final String topic;
    private final Subscriber subscriber;
    private final int capacity;
    private final long maxBytes;
    private final Clock clock;
    private final BackplaneCounters counters;
    private final Runnable onClose;
    /** Used by the one who set "scheduled" only, so never by two threads at once (builders are not thread-safe). */
    private final Thread.Builder threadBuilder;

    private final Queue<Object> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger size = new AtomicInteger();
    /** Payload bytes of the envelopes queued. */
    private final AtomicLong bytes = new AtomicLong();

    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final AtomicBoolean overflowOwed = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final SequenceTracker tracker = new SequenceTracker();
    private final FailureLog errors = new FailureLog(LOG);

    TopicSubscription(
            String topic,
            Subscriber subscriber,
            int capacity,
            long maxBytes,
            Clock clock,
            BackplaneCounters counters,
            Runnable onClose) {
        this.topic = topic;
        this.subscriber = subscriber;
        this.capacity = capacity;
        this.maxBytes = maxBytes;
        this.clock = clock;
        this.counters = counters;
        this.onClose = onClose;
        this.threadBuilder = Thread.ofVirtual().name("chorus-deliver-" + topic);
    }

    String topic() {
        return topic;
    }

    void enqueue(Envelope envelope) {
        if (closed.get()) {
            return;
        }
        int weight = envelope.payloadSize();
        long queuedBytes = bytes.addAndGet(weight);
        // One envelope always fits, however large: the byte bound must not starve a subscriber.
        boolean overBytes = queuedBytes > maxBytes && queuedBytes > weight;
        if (size.incrementAndGet() > capacity || overBytes) {
            size.decrementAndGet();
            bytes.addAndGet(-weight);
            counters.overflowDrops.increment();
            if (overflowOwed.compareAndSet(false, true)) {
                LOG.warn(
                        "Subscriber of topic '{}' is {} envelopes or {} bytes ({}) behind; dropping envelopes until"
                                + " it catches up (it will be told messages were missed)",
                        topic,
                        capacity,
                        maxBytes,
                        ChorusConfig.RECEIVE_QUEUE_BYTES);
                size.incrementAndGet();
                queue.add(OVERFLOW_MARKER);
                schedule();
            }
            return;
        }
        queue.add(envelope);
        schedule();
    }

    void enqueueMissed(Missed missed) {
        if (closed.get()) {
            return;
        }
        // Signals bypass the capacity: dropping one would turn a reported loss into a silent one.
        size.incrementAndGet();
        queue.add(missed);
        schedule();
    }

    private void schedule() {
        if (scheduled.compareAndSet(false, true)) {
            threadBuilder.start(this::drain);
        }
    }

    private void drain() {
        try {
            for (int i = 0; i < BATCH && !closed.get(); i++) {
                Object item = queue.poll();
                if (item == null) {
                    break;
                }
                size.decrementAndGet();
                if (item == OVERFLOW_MARKER) {
                    overflowOwed.set(false);
                    tracker.rebase();
                    signal(new Missed(
                            Missed.Cause.OVERFLOW,
                            null,
                            "the delivery queue of topic '" + topic + "' overflowed at " + capacity + " envelopes or "
                                    + maxBytes + " bytes and dropped some",
                            clock.instant()));
                } else if (item instanceof Envelope envelope) {
                    bytes.addAndGet(-envelope.payloadSize());
                    deliver(envelope);
                } else {
                    Missed missed = (Missed) item;
                    if (missed.origin() == null) {
                        tracker.rebase();
                    }
                    signal(missed);
                }
            }
        } finally {
            scheduled.set(false);
            if (!closed.get() && !queue.isEmpty()) {
                schedule();
            }
        }
    }

    private void deliver(Envelope envelope) {
        switch (tracker.observe(envelope)) {
            case DUPLICATE -> {
                counters.duplicates.increment();
                return;
            }
            case GAP ->
                signal(new Missed(
                        Missed.Cause.SEQUENCE_GAP,
                        envelope.origin(),
                        "envelopes " + tracker.lastGapFrom() + ".." + tracker.lastGapTo() + " from "
                                + envelope.origin().shortForm() + " on topic '" + topic + "' never arrived",
                        clock.instant()));
            case NEW_EPOCH ->
                signal(new Missed(
                        Missed.Cause.NEW_EPOCH,
                        envelope.origin(),
                        envelope.origin().shortForm() + " started a new sequence epoch on topic '" + topic + "'",
                        clock.instant()));
            case IN_ORDER -> {
                // deliver below
            }
        }
        counters.delivered.increment();
        try {
            subscriber.onMessage(envelope);
            errors.recovered("Subscriber of topic '" + topic + "' accepts envelopes again");
        } catch (RuntimeException e) {
            counters.subscriberErrors.increment();
            errors.failure("Subscriber of topic '" + topic + "' threw on " + envelope + "; continuing", e);
        }
    }

    private void signal(Missed missed) {
        counters.gaps.increment();
        LOG.info("Messages may have been missed on topic '{}': {} ({})", topic, missed.cause(), missed.detail());
        try {
            subscriber.onMissed(missed);
        } catch (RuntimeException e) {
            counters.subscriberErrors.increment();
            LOG.warn("Subscriber of topic '{}' threw while handling {}; continuing", topic, missed.cause(), e);
        }
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            queue.clear();
            bytes.set(0);
            onClose.run();
        }
    }
}

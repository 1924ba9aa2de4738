package dev.chorus.internal;

import dev.chorus.ChorusConfig;
import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.BackplaneClosedException;
import dev.chorus.backplane.BackplaneStats;
import dev.chorus.backplane.ConnectivityEvent;
import dev.chorus.backplane.ConnectivityListener;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.health.Health;
import dev.chorus.wire.DecodeResult;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import dev.chorus.wire.EnvelopeTooLargeException;
import dev.chorus.wire.Rejection;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * What every transport shares, so each one only moves bytes:
 *
 *  publish:  stamp (origin, epoch, per-topic sequence) -> encode -> queue for local subscribers -> transmit.
 *            All four steps happen under one lock so that the order of sequence numbers is the order in
 *            which envelopes reach both the local subscribers and the transport's send queue. transmit()
 *            must therefore only enqueue, never wait for I/O.
 *  receive:  received(bytes) -> decode (rejections counted, logged once per reason) -> on a networked
 *            transport, signed envelopes checked for freshness (ReplayGuard) -> own echoes and transport
 *            kinds (CANARY, CONTROL) diverted -> one queue per subscription, bounded in envelopes and in
 *            payload bytes (CHORUS_RECEIVE_QUEUE_BYTES); over either, dropped with a Missed signal.
 *  health:   connectionLost / connectionRestored drive HEALTHY <-> DEGRADED, the ERROR-once / INFO-on-
 *            recovery logging, the connectivity events and the RECONNECTED signal to every subscription.
 */

/** Base class of every backplane transport: stamping, local delivery, decoding, health and events. */
public abstract class AbstractBackplane implements Backplane {

    /** Default capacity of each subscription's delivery queue. */
    public static final int DEFAULT_SUBSCRIPTION_CAPACITY = 65_536;

    private static final Logger LOG = LoggerFactory.getLogger(AbstractBackplane.class);

    private final String backend;
    private final ReplicaId replica;
    private final EnvelopeCodec codec;
    private final Clock clock;
    private final int subscriptionCapacity;
    private final long subscriptionBytes;
    private final Object publishLock = new Object();
    private final Sequencer sequencer = new Sequencer();
    private final BackplaneCounters counters = new BackplaneCounters();
    private final Map<String, CopyOnWriteArrayList<TopicSubscription>> subscriptions = new ConcurrentHashMap<>();
    private final List<ConnectivityListener> listeners = new CopyOnWriteArrayList<>();
    private final SerialExecutor notifier = new SerialExecutor("chorus-connectivity");
    private final Map<Rejection, Boolean> rejectionsLogged = new ConcurrentHashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final FailureLog connectionLog;
    private final @Nullable ReplayGuard replayGuard;
    private final @Nullable String unsignedWarning;
    private volatile @Nullable String degradedReason;
    private volatile boolean everConnected;

    /**
     * @param backend the transport's name in logs and health, for example {@code redis}
     * @param replica this replica
     * @param codec the codec of this cluster (name, secret, size limit)
     * @param clock the clock for timestamps and events
     * @param subscriptionCapacity envelopes each subscription may have queued before dropping
     */
    protected AbstractBackplane(
            String backend, ReplicaId replica, EnvelopeCodec codec, Clock clock, int subscriptionCapacity) {
        this(backend, replica, codec, clock, subscriptionCapacity, ChorusConfig.DEFAULT_RECEIVE_QUEUE_BYTES, null);
    }

    /**
     * @param backend the transport's name in logs and health, for example {@code redis}
     * @param replica this replica
     * @param codec the codec of this cluster (name, secret, size limit)
     * @param clock the clock for timestamps and events
     * @param subscriptionCapacity envelopes each subscription may have queued before dropping
     * @param subscriptionBytes payload bytes each subscription may have queued before dropping
     */
    protected AbstractBackplane(
            String backend,
            ReplicaId replica,
            EnvelopeCodec codec,
            Clock clock,
            int subscriptionCapacity,
            long subscriptionBytes) {
        this(backend, replica, codec, clock, subscriptionCapacity, subscriptionBytes, null);
    }

    /** A networked transport with the default receive queue bytes; see the full constructor. */
    protected AbstractBackplane(
            String backend,
            ReplicaId replica,
            EnvelopeCodec codec,
            Clock clock,
            int subscriptionCapacity,
            @Nullable Duration replayWindow) {
        this(
                backend,
                replica,
                codec,
                clock,
                subscriptionCapacity,
                ChorusConfig.DEFAULT_RECEIVE_QUEUE_BYTES,
                replayWindow);
    }

    /**
     * A transport whose bytes cross a network: signed envelopes it receives must be fresh within {@code
     * replayWindow} of {@code clock} (null: not networked, no check), and running unsigned is logged at WARN
     * and shown in {@link #health()}. Its builder must already have refused a missing secret without an
     * explicit opt-out ({@link WireSecurity#requireSecret}).
     *
     * @param subscriptionBytes payload bytes each subscription may have queued before dropping
     * @param replayWindow how far a signed envelope's timestamp may be from {@code clock}, or null
     */
    protected AbstractBackplane(
            String backend,
            ReplicaId replica,
            EnvelopeCodec codec,
            Clock clock,
            int subscriptionCapacity,
            long subscriptionBytes,
            @Nullable Duration replayWindow) {
        this.subscriptionBytes = Checks.positive("receive queue bytes", subscriptionBytes);
        this.backend = Objects.requireNonNull(backend, "backend");
        this.replica = Objects.requireNonNull(replica, "replica");
        this.codec = Objects.requireNonNull(codec, "codec");
        this.clock = Objects.requireNonNull(clock, "clock");
        if (subscriptionCapacity < 1) {
            throw new IllegalArgumentException("subscriptionCapacity must be >= 1, was " + subscriptionCapacity);
        }
        this.subscriptionCapacity = subscriptionCapacity;
        this.connectionLog = new FailureLog(LoggerFactory.getLogger(getClass()));
        this.degradedReason = "not connected yet";
        this.replayGuard = replayWindow != null && codec.signed() ? new ReplayGuard(clock, replayWindow) : null;
        this.unsignedWarning = replayWindow != null && !codec.signed()
                ? "unsigned: anyone who can publish on " + backend + " channel '" + codec.cluster()
                        + "' can inject messages into every replica (" + ChorusConfig.ALLOW_UNSIGNED
                        + "=true); set " + ChorusConfig.CLUSTER_SECRET + " to sign"
                : null;
        if (unsignedWarning != null) {
            LoggerFactory.getLogger(getClass())
                    .warn("{} backplane runs UNSIGNED by explicit opt-out: {}", backend, unsignedWarning);
        }
    }

    // ---- identity ----

    @Override
    public final ReplicaId replica() {
        return replica;
    }

    @Override
    public final String cluster() {
        return codec.cluster();
    }

    @Override
    public final String backend() {
        return backend;
    }

    /** The codec of this cluster. */
    protected final EnvelopeCodec codec() {
        return codec;
    }

    /** The clock for timestamps. */
    protected final Clock clock() {
        return clock;
    }

    /** This backplane's sequence epoch. */
    public final long epoch() {
        return sequencer.epoch();
    }

    // ---- publish ----

    @Override
    public final CompletableFuture<Void> publish(Message message) {
        Objects.requireNonNull(message, "message");
        ensureOpen();
        synchronized (publishLock) {
            Stamped stamped = stamp(message);
            CompletableFuture<Void> sent;
            try {
                sent = transmit(stamped.envelope(), stamped.bytes());
            } catch (RuntimeException e) {
                sent = CompletableFuture.failedFuture(e);
            }
            return countFailures(sent);
        }
    }

    /** A message stamped into an envelope, with its encoding. */
    protected record Stamped(Envelope envelope, byte[] bytes) {}

    /**
     * Runs {@code action} under the publish lock, so that envelopes it stamps with {@link #stamp} take their
     * place in the same order as envelopes published concurrently. Keep it short: publishers wait.
     */
    protected final <T> T underPublishLock(java.util.function.Supplier<T> action) {
        synchronized (publishLock) {
            return action.get();
        }
    }

    /**
     * Stamps {@code message} with this replica's origin, epoch and the topic's next sequence number, encodes
     * it and queues it for local subscribers. Call under {@link #underPublishLock}; the caller must then send
     * the bytes in stamping order.
     *
     * @throws EnvelopeTooLargeException when the message exceeds the size limit; no number is consumed
     */
    protected final Stamped stamp(Message message) {
        if (!Thread.holdsLock(publishLock)) {
            throw new IllegalStateException("stamp() must run under the publish lock");
        }
        long sequence = sequencer.next(message.topic());
        Envelope envelope;
        byte[] bytes;
        try {
            envelope = Envelope.of(
                    Envelope.Kind.MESSAGE,
                    codec.cluster(),
                    replica,
                    sequencer.epoch(),
                    sequence,
                    clock.instant(),
                    message.topic(),
                    message.headers(),
                    message.payload());
            bytes = codec.encode(envelope);
        } catch (RuntimeException e) {
            // Nothing was sent: give the number back, or receivers would see a gap that is not one.
            sequencer.undo(message.topic());
            throw e;
        }
        counters.published.increment();
        deliverLocally(envelope);
        return new Stamped(envelope, bytes);
    }

    /**
     * Records that a message on {@code topic} could not be stamped (it cannot be encoded) although it must not
     * vanish quietly, such as an outbox row whose transaction committed: consumes the topic's next sequence
     * number, so every receiver's tracker sees a gap at this origin's next envelope on the topic, tells local
     * subscribers at once, and counts a publish failure. Call under {@link #underPublishLock}.
     *
     * @return the sequence number the lost message would have carried, for an explicit loss announcement
     */
    protected final long skipLost(String topic, String detail) {
        if (!Thread.holdsLock(publishLock)) {
            throw new IllegalStateException("skipLost() must run under the publish lock");
        }
        long sequence = sequencer.next(topic);
        counters.publishFailures.increment();
        reportMissed(topic, new Missed(Missed.Cause.SEQUENCE_GAP, replica, detail, clock.instant()));
        return sequence;
    }

    /** Tells every subscription of {@code topic} that messages may have been missed; never throws. */
    protected final void reportMissed(String topic, Missed missed) {
        List<TopicSubscription> subs = subscriptions.get(topic);
        if (subs != null) {
            for (TopicSubscription sub : subs) {
                sub.enqueueMissed(missed);
            }
        }
    }

    /**
     * Encodes {@code message} as an <em>unsequenced</em> envelope (sequence 0) without delivering it
     * locally. For sends whose order against other envelopes is decided outside this replica, such as a
     * NOTIFY inside a caller's transaction that commits whenever the caller commits: receivers skip gap
     * tracking for them, and this replica's own subscribers receive them from the transport, after commit,
     * like everyone else.
     */
    protected final byte[] encodeUnsequenced(Message message) {
        ensureOpen();
        Envelope envelope = Envelope.of(
                Envelope.Kind.MESSAGE,
                codec.cluster(),
                replica,
                sequencer.epoch(),
                0,
                clock.instant(),
                message.topic(),
                message.headers(),
                message.payload());
        byte[] bytes = codec.encode(envelope);
        counters.published.increment();
        return bytes;
    }

    /** Counts a publish as failed when {@code sent} fails; returns it. */
    protected final CompletableFuture<Void> countFailures(CompletableFuture<Void> sent) {
        sent.whenComplete((ok, failure) -> {
            if (failure != null) {
                counters.publishFailures.increment();
            }
        });
        return sent;
    }

    /**
     * Builds and encodes a transport envelope ({@link Envelope.Kind#CANARY} or {@link Envelope.Kind#CONTROL})
     * that bypasses sequencing and subscribers.
     */
    protected final byte[] encodeTransportEnvelope(Envelope.Kind kind, String topic, byte[] payload) {
        if (kind == Envelope.Kind.MESSAGE) {
            throw new IllegalArgumentException("messages go through publish()");
        }
        Envelope envelope = Envelope.of(
                kind, codec.cluster(), replica, sequencer.epoch(), 0, clock.instant(), topic, Map.of(), payload);
        return codec.encode(envelope);
    }

    /**
     * Hands an encoded envelope to the transport for the other replicas. Called under the publish lock, in
     * sequence order: enqueue and return, never block on I/O.
     *
     * @throws EnvelopeTooLargeException or another {@link RuntimeException} to fail this publish only
     */
    protected abstract CompletableFuture<Void> transmit(Envelope envelope, byte[] bytes);

    private void deliverLocally(Envelope envelope) {
        List<TopicSubscription> subs = subscriptions.get(envelope.topic());
        if (subs != null) {
            for (TopicSubscription sub : subs) {
                sub.enqueue(envelope);
            }
        }
    }

    // ---- receive ----

    /** Bytes that arrived from the transport; call from the transport's receive thread. Never throws. */
    protected final void received(byte[] bytes) {
        received(bytes, 0, bytes.length);
    }

    /** Part of an array that arrived from the transport. Never throws. */
    protected final void received(byte[] bytes, int offset, int length) {
        if (closed.get()) {
            return;
        }
        counters.received.increment();
        if (codec.isSequencedMessageFrom(bytes, offset, length, replica.uuid())) {
            return; // our own echo: local subscribers already have it from publish()
        }
        DecodeResult result = codec.decode(bytes, offset, length);
        switch (result) {
            case DecodeResult.Rejected rejected -> rejected(rejected);
            case DecodeResult.Decoded decoded -> {
                if (fresh(decoded.envelope())) {
                    accept(decoded.envelope());
                }
            }
        }
    }

    private boolean fresh(Envelope envelope) {
        ReplayGuard guard = replayGuard;
        if (guard == null) {
            return true;
        }
        String why = guard.check(envelope);
        if (why == null) {
            return true;
        }
        counters.rejected(Rejection.REPLAYED);
        guard.log(backend, codec.cluster(), envelope, why);
        return false;
    }

    /** An envelope the transport decoded itself (or received as an object); never throws. */
    protected final void receivedEnvelope(Envelope envelope) {
        if (!closed.get()) {
            counters.received.increment();
            accept(envelope);
        }
    }

    private void accept(Envelope envelope) {
        try {
            switch (envelope.kind()) {
                case CANARY -> onCanary(envelope);
                case CONTROL -> onControl(envelope);
                case MESSAGE -> {
                    // Our own sequenced echo: local subscribers already have it from publish(). Unsequenced
                    // envelopes (sequence 0) reach local subscribers only this way.
                    if (!envelope.isFrom(replica) || envelope.sequence() == 0) {
                        deliverLocally(envelope);
                    }
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("{} backplane failed to handle {}; continuing", backend, envelope, e);
        }
    }

    /** Records a rejection: counted always, logged at WARN the first time per reason, DEBUG after. */
    protected final void rejected(DecodeResult.Rejected rejected) {
        counters.rejected(rejected.reason());
        if (rejectionsLogged.putIfAbsent(rejected.reason(), Boolean.TRUE) == null) {
            LOG.warn(
                    "{} backplane on channel '{}' dropped bytes that are not a valid envelope: {} ({})."
                            + " Further {} rejections are logged at DEBUG and counted",
                    backend,
                    codec.cluster(),
                    rejected.reason(),
                    rejected.detail(),
                    rejected.reason());
        } else {
            LOG.debug("{} backplane dropped bytes: {} ({})", backend, rejected.reason(), rejected.detail());
        }
    }

    /** A canary envelope arrived (usually this replica's own); transports that send canaries override. */
    protected void onCanary(Envelope envelope) {}

    /** A control envelope arrived; transports with control traffic override. */
    protected void onControl(Envelope envelope) {}

    // ---- subscribe ----

    @Override
    public final Subscription subscribe(String topic, Subscriber subscriber) {
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(subscriber, "subscriber");
        if (topic.isEmpty()) {
            throw new IllegalArgumentException("topic must not be empty");
        }
        ensureOpen();
        CopyOnWriteArrayList<TopicSubscription> subs =
                subscriptions.computeIfAbsent(topic, t -> new CopyOnWriteArrayList<>());
        TopicSubscription[] holder = new TopicSubscription[1];
        holder[0] = new TopicSubscription(
                topic,
                subscriber,
                subscriptionCapacity,
                subscriptionBytes,
                clock,
                counters,
                () -> subs.remove(holder[0]));
        subs.add(holder[0]);
        return holder[0];
    }

    @Override
    public final Subscription onConnectivity(ConnectivityListener listener) {
        Objects.requireNonNull(listener, "listener");
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    // ---- connectivity and health ----

    /**
     * The transport lost (or could not establish) its link to the other replicas. The first call after a
     * healthy period logs at ERROR and emits {@link ConnectivityEvent.Type#DISCONNECTED}; repeats log at
     * DEBUG.
     */
    protected final void connectionLost(String reason, @Nullable Throwable cause) {
        if (closed.get()) {
            return;
        }
        boolean wasHealthy = degradedReason == null;
        degradedReason = reason;
        connectionLog.failure(
                backend + " backplane on channel '" + codec.cluster() + "' is DEGRADED: " + reason
                        + "; messages to and from other replicas are not flowing, retrying",
                cause);
        if (wasHealthy) {
            emit(new ConnectivityEvent(ConnectivityEvent.Type.DISCONNECTED, reason, clock.instant()));
        }
    }

    /**
     * The transport's link works (verified, where the transport can verify it). After a loss this logs at
     * INFO, emits {@link ConnectivityEvent.Type#RECONNECTED} and tells every subscription that messages may
     * have been missed. The first connection after start is not a reconnect: nothing was subscribed to
     * miss.
     */
    protected final void connectionRestored(String how) {
        if (closed.get() || degradedReason == null) {
            return;
        }
        String was = degradedReason;
        degradedReason = null;
        if (!everConnected) {
            everConnected = true;
            LoggerFactory.getLogger(getClass())
                    .info("{} backplane connected on channel '{}' as {}: {}", backend, codec.cluster(), replica, how);
            connectionLog.recovered(backend + " backplane recovered: " + how);
            return;
        }
        connectionLog.recovered(backend + " backplane on channel '" + codec.cluster() + "' is HEALTHY again (" + how
                + ") after: " + was + "; subscribers are told messages may have been missed");
        Missed missed = new Missed(
                Missed.Cause.RECONNECTED,
                null,
                "the " + backend + " connection was lost (" + was + ") and restored",
                clock.instant());
        for (List<TopicSubscription> subs : subscriptions.values()) {
            for (TopicSubscription sub : subs) {
                sub.enqueueMissed(missed);
            }
        }
        emit(new ConnectivityEvent(ConnectivityEvent.Type.RECONNECTED, how, clock.instant()));
    }

    /** Whether the last state reported was a working connection. */
    protected final boolean isConnected() {
        return degradedReason == null;
    }

    private void emit(ConnectivityEvent event) {
        for (ConnectivityListener listener : listeners) {
            notifier.execute(() -> {
                try {
                    listener.onConnectivity(event);
                } catch (RuntimeException e) {
                    LOG.warn("Connectivity listener threw on {}; ignored", event, e);
                }
            });
        }
    }

    @Override
    public Health health() {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("backend", backend);
        details.put("channel", codec.cluster());
        details.put("replica", replica.toString());
        details.put("signed", codec.signed());
        if (unsignedWarning != null) {
            details.put("unsigned", unsignedWarning);
        }
        if (replayGuard != null) {
            details.put("replayWindowSeconds", replayGuard.window().toSeconds());
        }
        addHealthDetails(details);
        if (closed.get()) {
            return new Health(Health.Status.DOWN, "closed", details);
        }
        String reason = degradedReason;
        if (reason != null) {
            return new Health(Health.Status.DEGRADED, reason, details);
        }
        String extra = extraDegradedReason();
        if (extra != null) {
            return new Health(Health.Status.DEGRADED, extra, details);
        }
        return new Health(Health.Status.HEALTHY, "ok", details);
    }

    /** Transports add their own health details (queue usage, server address) here. */
    protected void addHealthDetails(Map<String, Object> details) {}

    /** A reason to report DEGRADED although connected (for example a filling server queue), or null. */
    protected @Nullable String extraDegradedReason() {
        return null;
    }

    @Override
    public final BackplaneStats stats() {
        return counters.snapshot();
    }

    // ---- close ----

    @Override
    public final void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            doClose();
        } catch (RuntimeException e) {
            LOG.warn("{} backplane did not close cleanly", backend, e);
        }
        List<TopicSubscription> all = new ArrayList<>();
        subscriptions.values().forEach(all::addAll);
        all.forEach(TopicSubscription::close);
        subscriptions.clear();
        listeners.clear();
        LOG.info("{} backplane on channel '{}' closed for {}", backend, codec.cluster(), replica);
    }

    /** Whether {@link #close()} was called. */
    protected final boolean isClosed() {
        return closed.get();
    }

    /** Releases the transport's connections and threads; called once. */
    protected abstract void doClose();

    private void ensureOpen() {
        if (closed.get()) {
            throw new BackplaneClosedException(backend, codec.cluster());
        }
    }
}

package dev.chorus.local;

import dev.chorus.ReplicaId;
import dev.chorus.internal.AbstractBackplane;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;

/**
 * The in-process transport. Envelopes are encoded and decoded as on any real transport, so size limits,
 * signatures and cluster checks behave the same; the bytes are handed to the other replicas of the same
 * {@link LocalCluster} directly.
 */
final class InProcessBackplane extends AbstractBackplane {

    private final LocalCluster cluster;

    InProcessBackplane(
            LocalCluster cluster, ReplicaId replica, EnvelopeCodec codec, Clock clock, int capacity, long bytes) {
        super("inprocess", replica, codec, clock, capacity, bytes);
        this.cluster = cluster;
    }

    void start() {
        connectionRestored("in-process delivery within one JVM");
    }

    @Override
    protected CompletableFuture<Void> transmit(Envelope envelope, byte[] bytes) {
        cluster.route(this, envelope, bytes);
        return CompletableFuture.completedFuture(null);
    }

    /** Bytes from another replica of the same cluster. */
    void deliver(byte[] bytes) {
        received(bytes);
    }

    /**
     * An envelope from another replica whose codec this one accepts entirely: decoding its bytes again would
     * give the same envelope, so the object itself is handed over.
     */
    void deliver(Envelope envelope) {
        receivedEnvelope(envelope);
    }

    EnvelopeCodec envelopeCodec() {
        return codec();
    }

    void isolated(String reason) {
        connectionLost(reason, null);
    }

    void healed() {
        connectionRestored("link healed");
    }

    @Override
    protected void doClose() {
        cluster.left(this);
    }
}

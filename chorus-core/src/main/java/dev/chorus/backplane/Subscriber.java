package dev.chorus.backplane;

import dev.chorus.wire.Envelope;

/**
 * Receives the envelopes of one topic subscription.
 *
 * <p>Called on the subscription's own delivery thread (a virtual thread named {@code
 * chorus-deliver-<topic>}), never on a transport's I/O thread and never concurrently with itself:
 * envelopes from one origin arrive in the order that origin sent them. An exception thrown here is
 * logged and counted; delivery continues with the next envelope.
 */
@FunctionalInterface
public interface Subscriber {

    /** One envelope on the subscribed topic, including those this replica sent itself. */
    void onMessage(Envelope envelope);

    /**
     * Messages on this topic may have been lost before the next one delivered: a sequence gap, a new
     * origin epoch, a reconnect of the transport, or an overflowing delivery queue. Features repair here
     * (a cache flushes, a registry reconciles). Called in order with {@link #onMessage}.
     */
    default void onMissed(Missed missed) {}
}

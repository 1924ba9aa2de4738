package dev.chorus.events;

/**
 * One connected client's end of the hub, implemented by the server (it writes to the client's socket).
 *
 * <p>Called on the sink's own delivery thread (a virtual thread named {@code chorus-sink-<user>}), one call
 * at a time and in order, never on the publisher's or a transport's thread. A slow sink only fills its own
 * queue. An exception thrown here is logged and counted; delivery continues.
 */
public interface Sink {

    /** One event, with the id the client keeps to resume from (the SSE {@code id:} field). */
    void onEvent(Delivery delivery);

    /**
     * The client may have missed events and must reload its state; events keep coming after this call.
     * {@link Reload#id()} is where the client stands once it has reloaded.
     */
    default void onReload(Reload reload) {}

    /**
     * The hub closed this sink (its queue overflowed under {@link OverflowPolicy#DISCONNECT}, or the hub
     * closed); the server should close the client's connection with {@code reason}. Nothing follows.
     */
    default void onClosed(String reason) {}
}

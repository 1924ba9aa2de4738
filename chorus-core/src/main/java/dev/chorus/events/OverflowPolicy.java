package dev.chorus.events;

/** What a sink's full queue does with one more event. */
public enum OverflowPolicy {
    /**
     * Drop the oldest queued event, count it, and tell the sink with {@link Reload.Reason#QUEUE_OVERFLOW}
     * before its next event: the client stays connected and reloads.
     */
    DROP_OLDEST,
    /** Close the sink with a reason ({@link Sink#onClosed}); the server closes the client's connection. */
    DISCONNECT
}

package dev.chorus.events;

/** Why an event queued for a sink was never handed to it. */
public enum DropReason {
    /** The sink's queue was full and the oldest event made room ({@link OverflowPolicy#DROP_OLDEST}). */
    QUEUE_FULL,
    /** The sink was disconnected by {@link OverflowPolicy#DISCONNECT} with events still queued. */
    SINK_DISCONNECTED,
    /** The server closed the registration (or the hub closed) with events still queued. */
    SINK_CLOSED
}

package dev.chorus.events;

/**
 * The signal that a client cannot be brought up to date by events and must reload its state.
 *
 * @param reason why
 * @param detail a sentence for logs and for the client
 * @param id the id the client stands at once it has reloaded; resuming from it later works like any id
 */
public record Reload(Reason reason, String detail, String id) {

    /** Why a client must reload. */
    public enum Reason {
        /** The id it resumed with is not one this cluster issues (malformed, truncated or altered). */
        INVALID_ID,
        /** The id names a hub this replica has never heard of (for example one that stopped before it started). */
        UNKNOWN_ORIGIN,
        /** The history no longer reaches back to the id (too many events since, or too long ago). */
        HISTORY_TOO_SHORT,
        /** Events were lost between replicas (a backplane gap, reconnect or overflow): some may be missing. */
        LOSS_DETECTED,
        /** More events were missed than the sink's queue holds; replaying them would overflow it at once. */
        TOO_MANY_MISSED,
        /** The client was too slow: its queue was full and the oldest events were dropped. */
        QUEUE_OVERFLOW
    }
}

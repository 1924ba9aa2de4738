package dev.chorus.events;

/**
 * The signal that a client cannot be brought up to date by events and must reload its state.
 *
 * @param reason why
 * @param detail a fixed sentence per reason, fit for the client; the specifics (which hub, which events)
 *     go to this replica's log only
 * @param id the id the client stands at once it has reloaded; resuming from it later works like any id
 */
public record Reload(Reason reason, String detail, String id) {

    /** A reload for {@code reason} with that reason's sentence for the client. */
    static Reload of(Reason reason, String id) {
        return new Reload(reason, reason.sentence, id);
    }

    /** Why a client must reload. */
    public enum Reason {
        /** The id it resumed with is not one this cluster issues (malformed, truncated or altered). */
        INVALID_ID("The event id is not valid; reload."),
        /** The id names a hub this replica has never heard of (for example one that stopped before it started). */
        UNKNOWN_ORIGIN("The event id names events this server does not know; reload."),
        /** The history no longer reaches back to the id (too many events since, or too long ago). */
        HISTORY_TOO_SHORT("The events since the event id are no longer kept; reload."),
        /** Events were lost between replicas (a backplane gap, reconnect or overflow): some may be missing. */
        LOSS_DETECTED("Some events never arrived at this server; reload."),
        /** More events were missed than the sink's queue holds; replaying them would overflow it at once. */
        TOO_MANY_MISSED("Too many events were missed to replay them; reload."),
        /** The client was too slow: its queue was full and the oldest events were dropped. */
        QUEUE_OVERFLOW("The client fell behind and events were dropped; reload.");

        private final String sentence;

        Reason(String sentence) {
            this.sentence = sentence;
        }
    }
}

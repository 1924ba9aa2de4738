package dev.chorus.backplane;

import java.time.Instant;

/**
 * A change in a backplane's connection to the other replicas.
 *
 * @param type what happened
 * @param reason a sentence for operators: what broke, or what came back
 * @param at when, by this replica's clock
 */
public record ConnectivityEvent(Type type, String reason, Instant at) {

    /** What happened to the connection. */
    public enum Type {
        /** The connection broke: messages to and from other replicas are not flowing. */
        DISCONNECTED,
        /**
         * The connection works again after a break, and messages may have been missed meanwhile: features
         * that keep derived state must repair it. Every subscription also receives {@link
         * Missed.Cause#RECONNECTED}.
         */
        RECONNECTED
    }
}

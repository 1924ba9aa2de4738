package dev.chorus.backplane;

import dev.chorus.ReplicaId;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * A signal that messages on a topic may have been lost, and why.
 *
 * @param cause what revealed the possible loss
 * @param origin the replica whose messages were lost, or null when it may be any (a reconnect)
 * @param detail a sentence for the log
 * @param at when the loss was detected, by this replica's clock
 */
public record Missed(Cause cause, @Nullable ReplicaId origin, String detail, Instant at) {

    /** What revealed that messages may have been lost. */
    public enum Cause {
        /** An origin's sequence number jumped: the envelopes in between never arrived. */
        SEQUENCE_GAP,
        /** An origin started a new sequence epoch; what it sent at the end of the old one is unknown. */
        NEW_EPOCH,
        /** The transport lost its connection and got it back; anything sent meanwhile may be lost. */
        RECONNECTED,
        /** This subscription's delivery queue was full, so envelopes were dropped before delivery. */
        OVERFLOW
    }
}

package dev.chorus.sessions;

import dev.chorus.ReplicaId;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The one outcome of a dispatch.
 *
 * @param outcome what happened
 * @param replica the owning replica, when one was found
 * @param token the session's fencing token, when an owner was found (0 otherwise)
 * @param roundTrip from the dispatch call to its outcome
 * @param reason a sentence for the caller: why it was not delivered, or "delivered"
 */
public record DispatchResult(
        Outcome outcome, @Nullable ReplicaId replica, long token, Duration roundTrip, String reason) {

    /** The possible outcomes of a dispatch; exactly one per call. */
    public enum Outcome {
        /** The owner's handler accepted the message. */
        DELIVERED,
        /** No replica holds a live session with that id. */
        NO_LIVE_SESSION,
        /** The owner is shutting down and takes no more messages; retry after the client reconnects. */
        OWNER_DRAINING,
        /** No answer within the timeout: the owner may or may not have handled it. */
        TIMEOUT,
        /** The owner's handler refused the message; see the reason. */
        REJECTED
    }

    /** Validates the components. */
    public DispatchResult {
        Objects.requireNonNull(outcome, "outcome");
        Objects.requireNonNull(roundTrip, "roundTrip");
        Objects.requireNonNull(reason, "reason");
    }

    /** Whether the owner's handler accepted the message. */
    public boolean delivered() {
        return outcome == Outcome.DELIVERED;
    }
}

package dev.chorus.sessions;

import java.time.Duration;
import java.util.concurrent.CompletionStage;

/** Sends a message to whichever replica owns a session and reports the one outcome. */
@FunctionalInterface
public interface Dispatcher {

    /**
     * Sends {@code payload} to the owner of {@code sessionId}. The stage completes with exactly one outcome
     * and never exceptionally: DELIVERED once the owner's handler accepted it, NO_LIVE_SESSION at once when
     * no replica holds the session, OWNER_DRAINING, REJECTED with the handler's reason, or TIMEOUT.
     */
    CompletionStage<DispatchResult> dispatch(String sessionId, byte[] payload, Duration timeout);
}

package dev.chorus.sessions;

import java.util.concurrent.CompletionStage;

/**
 * What a replica does with its session: takes dispatched messages and hears when the session ends.
 *
 * <p>Calls for one session run one at a time, in order. {@link #onDispatch} must not block: start the
 * client's work and return a stage. When the session has nothing else queued it runs on the thread that
 * received the dispatch (a backplane delivery thread shared by this replica's sessions, or for a dispatch
 * made on this replica the dispatching or lease-store thread), otherwise on a virtual thread of the
 * session's own.
 */
public interface SessionHandler {

    /**
     * A message for the session. Complete the stage with {@link Acceptance#accept()} once the client took
     * it (for example after it acknowledged it), or {@link Acceptance#reject} with a reason. The
     * dispatcher's timeout bounds the wait.
     */
    CompletionStage<Acceptance> onDispatch(Dispatch dispatch);

    /**
     * The session ended on this replica: closed, superseded by a newer claim elsewhere, or lost (its lease
     * could not be renewed before the deadline). Close the client's socket with {@code reason}.
     */
    void onEnded(Session session, Session.EndReason why, String reason);
}

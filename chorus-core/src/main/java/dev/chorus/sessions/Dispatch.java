package dev.chorus.sessions;

import dev.chorus.ReplicaId;

/**
 * A message for a session, as its owner's handler receives it.
 *
 * @param sessionId the session it is for
 * @param token the fencing token the sender addressed; equal to the session's current token
 * @param from the replica that dispatched it
 * @param payload the message bytes; the handler may keep the array
 */
public record Dispatch(String sessionId, long token, ReplicaId from, byte[] payload) {}

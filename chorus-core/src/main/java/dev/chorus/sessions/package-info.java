/**
 * Long-lived client sessions owned by one replica at a time, with fencing, and dispatch of messages to
 * the owner with an acknowledgement: {@link dev.chorus.sessions.Sessions}.
 */
@NullMarked
package dev.chorus.sessions;

import org.jspecify.annotations.NullMarked;

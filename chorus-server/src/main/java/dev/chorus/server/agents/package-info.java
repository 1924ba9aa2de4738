/** Agents: long-lived WebSocket clients whose sessions are owned by one replica and reached by dispatch. */
@NullMarked
package dev.chorus.server.agents;

import org.jspecify.annotations.NullMarked;

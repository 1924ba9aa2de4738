/** The Chorus reference server: one replica of an HTTP and WebSocket service built on Chorus's public API. */
@NullMarked
package dev.chorus.server;

import org.jspecify.annotations.NullMarked;

/** The server's HTTP and WebSocket surface on Javalin: routes, problem responses, authentication. */
@NullMarked
package dev.chorus.server.http;

import org.jspecify.annotations.NullMarked;

/**
 * Cross-replica event fan-out to connected clients. Entry point: {@link dev.chorus.events.EventHub}
 * ({@code EventHub.builder(backplane).build()}).
 *
 * <p>A server registers one {@link dev.chorus.events.Sink} per connected client with the client's {@link
 * dev.chorus.events.Identity}; the hub delivers {@code broadcast}, {@code toUser} and {@code toGroup} events
 * to the matching sinks of every replica, each with an id from which a reconnecting client resumes on any
 * replica, or is told to reload when it cannot.
 */
@NullMarked
package dev.chorus.events;

import org.jspecify.annotations.NullMarked;

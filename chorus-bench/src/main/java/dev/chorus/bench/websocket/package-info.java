/**
 * The {@code websocket-scale} scenario ({@link dev.chorus.bench.websocket.WebSocketScaleScenario}): idle
 * WebSockets per replica of the reference server next to a raw Jetty baseline, broadcast fan-out latency and
 * a reconnect storm, each server and the client fleet ({@code FleetMain}, one NIO selector thread) in
 * processes of their own.
 */
@NullMarked
package dev.chorus.bench.websocket;

import org.jspecify.annotations.NullMarked;

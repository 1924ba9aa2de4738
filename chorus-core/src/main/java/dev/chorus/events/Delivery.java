package dev.chorus.events;

/**
 * One event as a sink receives it.
 *
 * @param id the resume id: a client that reconnects with it (to any replica) receives what came after
 * @param event the event
 */
public record Delivery(String id, Event event) {}

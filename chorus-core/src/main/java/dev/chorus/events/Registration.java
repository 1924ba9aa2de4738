package dev.chorus.events;

import dev.chorus.Subscription;

/** A registered sink: close it when the client disconnects. */
public interface Registration extends Subscription {

    /**
     * Where the client stands: the id of the last event or reload handed to the sink, or, before any, the id
     * it registered (or resumed) at. Resuming from it later delivers everything after, including what is
     * still queued. Servers send it to a freshly connected client that has no event id yet, so even its first
     * reconnect can resume.
     */
    String position();

    /** Events queued for the sink and not yet handed to it. */
    int queued();

    /** Whether the sink still receives events (not closed by the server, the overflow policy or the hub). */
    boolean isOpen();
}

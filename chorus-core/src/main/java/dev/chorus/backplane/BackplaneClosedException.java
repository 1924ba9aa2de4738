package dev.chorus.backplane;

import dev.chorus.ChorusException;

/** The backplane was closed (the replica is shutting down); nothing was sent. */
public final class BackplaneClosedException extends ChorusException {

    /** A publish or subscribe reached a closed backplane. */
    public BackplaneClosedException(String backend, String cluster) {
        super("The " + backend + " backplane for cluster '" + cluster
                + "' is closed: this replica is shutting down and sends nothing more");
    }
}

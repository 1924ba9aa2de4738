package dev.chorus.bench;

import dev.chorus.backplane.Backplane;

/** One Chorus replica a networked scenario started: its backplane and whatever it alone uses. */
interface BenchReplica extends AutoCloseable {

    /** The replica's backplane. */
    Backplane backplane();

    /** Closes the backplane, then what it used. */
    @Override
    void close();
}

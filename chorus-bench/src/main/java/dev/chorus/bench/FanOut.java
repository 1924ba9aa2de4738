package dev.chorus.bench;

import java.util.List;

/** One publisher and several receivers joined by some transport: Chorus or a hand-written baseline. */
interface FanOut extends AutoCloseable {

    /** The variant name shown in the results. */
    String variant();

    /** The receivers, each fed by its own thread. */
    List<Receiver> receivers();

    /** Sends {@code payload} to every receiver; called from one thread. */
    void publish(byte[] payload);

    /** Losses the transport itself reported (Chorus' onMissed, failed publishes); 0 if it cannot tell. */
    long lossSignals();

    /** Stops the receivers' threads and releases the transport. */
    @Override
    void close();
}

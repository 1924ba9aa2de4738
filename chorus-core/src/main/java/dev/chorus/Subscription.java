package dev.chorus;

/** A registration (a topic subscription, a listener) that stops when closed; closing twice is harmless. */
@FunctionalInterface
public interface Subscription extends AutoCloseable {

    /** Stops the registration; after it returns no further callbacks start. */
    @Override
    void close();
}

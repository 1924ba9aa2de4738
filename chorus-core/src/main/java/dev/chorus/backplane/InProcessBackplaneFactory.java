package dev.chorus.backplane;

/**
 * Makes the backplane {@link Backplane#inProcess()} returns. The in-process transport registers one with
 * {@link java.util.ServiceLoader}, so that this SPI package does not depend on a transport; applications call
 * {@link Backplane#inProcess()} instead of implementing this.
 */
public interface InProcessBackplaneFactory {

    /** A new backplane for one replica alone, with a random replica id. */
    Backplane create();
}

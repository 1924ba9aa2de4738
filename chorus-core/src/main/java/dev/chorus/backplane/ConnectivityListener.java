package dev.chorus.backplane;

/**
 * Hears when a backplane loses and regains its connection to the other replicas.
 *
 * <p>Called on a Chorus notification thread (virtual, named {@code chorus-connectivity}), never on a
 * transport's I/O thread; events arrive in order. Exceptions are logged and ignored.
 */
@FunctionalInterface
public interface ConnectivityListener {

    /** A change of connectivity. */
    void onConnectivity(ConnectivityEvent event);
}

package dev.chorus.testkit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Free loopback ports for servers a test starts on a port of its choosing (JGroups members, replicas).
 *
 * <p>Ports come from below the kernel's usual ephemeral range (Linux: 32768 and up). A port the kernel
 * hands out for {@code new ServerSocket(0)} is also one it may give the next outgoing connection: between
 * the test choosing it and the server binding it, a member's client socket took it, and the member failed
 * with "No available port to bind to".
 *
 * <p>A port is handed out once per JVM, companion included: a test asks for its members' ports before it
 * starts any of them, so "free right now" alone once gave two members of one test the same port.
 */
public final class LoopbackPorts {

    private static final int FIRST = 20_000;
    private static final int LAST = 32_000;

    /** Ports handed out so far, companions included (guarded by the class). */
    private static final Set<Integer> HANDED_OUT = new HashSet<>();

    private LoopbackPorts() {}

    /** A port free on loopback together with {@code port + companionOffset} (0 for none). */
    public static synchronized int free(int companionOffset) {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(FIRST, LAST);
            int companion = port + companionOffset;
            if (HANDED_OUT.contains(port) || HANDED_OUT.contains(companion)) {
                continue;
            }
            if (isFree(loopback, port) && (companionOffset == 0 || isFree(loopback, companion))) {
                HANDED_OUT.add(port);
                HANDED_OUT.add(companion);
                return port;
            }
        }
        throw new IllegalStateException("no free loopback port between " + FIRST + " and " + LAST + " after 200 tries");
    }

    private static boolean isFree(InetAddress loopback, int port) {
        try (ServerSocket socket = new ServerSocket(port, 1, loopback)) {
            return true;
        } catch (IOException taken) {
            return false;
        }
    }
}

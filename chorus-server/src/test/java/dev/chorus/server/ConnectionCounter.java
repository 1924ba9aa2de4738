package dev.chorus.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A listener that only counts the connections it accepts, on 127.0.0.1 and, when this machine has IPv6
 * loopback, on [::1] at the same port: the witness that a refused webhook target was never connected to.
 */
final class ConnectionCounter implements AutoCloseable {

    private final List<ServerSocket> sockets = new ArrayList<>();
    private final AtomicInteger accepted = new AtomicInteger();

    ConnectionCounter() {
        try {
            ServerSocket v4 = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
            sockets.add(v4);
            try {
                ServerSocket v6 = new ServerSocket();
                v6.bind(new InetSocketAddress(InetAddress.getByName("::1"), v4.getLocalPort()));
                sockets.add(v6);
            } catch (IOException noIpv6Loopback) {
                // Then nothing can reach [::1] at this port either.
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (ServerSocket socket : sockets) {
            Thread.ofVirtual().name("connection-counter").start(() -> accept(socket));
        }
    }

    private void accept(ServerSocket socket) {
        while (!socket.isClosed()) {
            try (Socket ignored = socket.accept()) {
                accepted.incrementAndGet();
            } catch (IOException closed) {
                return;
            }
        }
    }

    int port() {
        return sockets.get(0).getLocalPort();
    }

    /** Connections accepted so far. */
    int accepted() {
        return accepted.get();
    }

    @Override
    public void close() {
        for (ServerSocket socket : sockets) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }
}

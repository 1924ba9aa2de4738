package dev.chorus.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** A TCP server on 127.0.0.1 that writes back whatever it reads, and counts what it saw. */
final class EchoServer implements AutoCloseable {

    private final ServerSocket server;
    private final AtomicLong bytesReceived = new AtomicLong();
    private final AtomicInteger openConnections = new AtomicInteger();
    private final AtomicInteger acceptedConnections = new AtomicInteger();

    EchoServer() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().name("echo-accept").start(this::acceptLoop);
    }

    int port() {
        return server.getLocalPort();
    }

    long bytesReceived() {
        return bytesReceived.get();
    }

    int openConnections() {
        return openConnections.get();
    }

    int acceptedConnections() {
        return acceptedConnections.get();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                acceptedConnections.incrementAndGet();
                openConnections.incrementAndGet();
                Thread.ofVirtual().name("echo-" + socket.getPort()).start(() -> echo(socket));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void echo(Socket socket) {
        try (socket;
                InputStream in = socket.getInputStream();
                OutputStream out = socket.getOutputStream()) {
            byte[] buffer = new byte[8192];
            for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                bytesReceived.addAndGet(n);
                out.write(buffer, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // A reset connection ends the echo like a closed one.
        } finally {
            openConnections.decrementAndGet();
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}

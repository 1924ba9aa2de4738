package dev.chorus.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TCP proxy on 127.0.0.1 that forwards to one target and injects faults on command: latency, a freeze, a reset of
 * every connection, refusal of new ones. Thread-safe; every control applies to open connections at once.
 *
 * <p>How it works: each direction of each connection has a reader thread that reads chunks into a bounded queue,
 * stamped with the time they were read, and a writer thread that takes them in order and writes each one once it is
 * {@code latency} old and the proxy is not frozen. So latency delays every chunk without reordering, and a freeze holds
 * bytes (and FINs, which travel through the same queue) until {@link #heal()}; once a queue is full the reader stops
 * reading and TCP flow control stalls the sender, as a real frozen network would.
 */
public final class FaultProxy implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(FaultProxy.class);
    private static final int CHUNK_BYTES = 16 * 1024;
    private static final int QUEUED_CHUNKS = 256;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

    private final String targetHost;
    private final int targetPort;
    private final ServerSocket server;
    private final String name;
    private final Set<Link> links = ConcurrentHashMap.newKeySet();
    private final AtomicInteger linkIds = new AtomicInteger();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition faultsChanged = lock.newCondition();
    private final Thread acceptor;
    // Guarded by lock.
    private long latencyNanos;
    private boolean frozen;
    private volatile boolean refusing;

    private FaultProxy(String targetHost, int targetPort, ServerSocket server) {
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        this.server = server;
        this.name = "chorus-faultproxy-" + server.getLocalPort();
        this.acceptor = Thread.ofPlatform().name(name + "-accept").daemon().start(this::acceptLoop);
    }

    /** Starts a proxy on a free port of 127.0.0.1 that forwards every connection to {@code targetHost:targetPort}. */
    public static FaultProxy start(String targetHost, int targetPort) {
        try {
            ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            FaultProxy proxy = new FaultProxy(targetHost, targetPort, server);
            LOG.info("Started {}", proxy);
            return proxy;
        } catch (IOException e) {
            throw new UncheckedIOException("could not open a fault proxy port", e);
        }
    }

    /** Always {@code 127.0.0.1}. */
    public String host() {
        return server.getInetAddress().getHostAddress();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Delays every chunk, in both directions, by {@code latency} after it was read; zero removes the delay. */
    public void latency(Duration latency) {
        if (latency.isNegative()) {
            throw new IllegalArgumentException("latency must not be negative: " + latency);
        }
        changeFaults(() -> latencyNanos = latency.toNanos());
        LOG.info("{}: latency {}", name, latency);
    }

    /**
     * Stops forwarding in both directions without closing anything (no FIN, no RST); held bytes are delivered on
     * {@link #heal()}. New connections are still accepted and connected upstream, but carry nothing until then.
     */
    public void freeze() {
        changeFaults(() -> frozen = true);
        LOG.info("{}: frozen", name);
    }

    /** Resets every open connection, on both sides, with a TCP RST; bytes still held are lost. */
    public void cut() {
        int count = 0;
        for (Link link : links) {
            link.reset();
            count++;
        }
        LOG.info("{}: cut {} connection(s)", name, count);
    }

    /** While true, new connections are accepted and immediately reset; open ones are left alone. */
    public void refuse(boolean refuse) {
        refusing = refuse;
        LOG.info("{}: {}", name, refuse ? "refusing new connections" : "accepting new connections");
    }

    /** Back to a healthy network: no latency, not frozen (held bytes flow, in order), accepting connections. */
    public void heal() {
        refusing = false;
        changeFaults(() -> {
            latencyNanos = 0;
            frozen = false;
        });
        LOG.info("{}: healed", name);
    }

    /** Connections currently open through the proxy. */
    public int connectionCount() {
        return links.size();
    }

    /** Stops listening and resets every open connection; idempotent. */
    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return;
        }
        closeQuietly(server);
        acceptor.interrupt();
        links.forEach(Link::reset);
        changeFaults(() -> {});
        LOG.info("Closed {}", name);
    }

    @Override
    public String toString() {
        return name + " -> " + targetHost + ":" + targetPort;
    }

    private void changeFaults(Runnable change) {
        lock.lock();
        try {
            change.run();
            faultsChanged.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Blocks until a chunk read at {@code readAt} may be written: the proxy is not frozen and latency has passed. */
    private void awaitRelease(long readAt) throws InterruptedException {
        lock.lock();
        try {
            while (!closed.get()) {
                if (frozen) {
                    faultsChanged.await();
                    continue;
                }
                long wait = readAt + latencyNanos - System.nanoTime();
                if (wait <= 0) {
                    return;
                }
                faultsChanged.awaitNanos(wait);
            }
        } finally {
            lock.unlock();
        }
    }

    private void acceptLoop() {
        while (!closed.get()) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                if (!closed.get()) {
                    LOG.warn("{}: accept failed", name, e);
                }
                continue;
            }
            if (refusing || closed.get()) {
                resetSocket(client);
                continue;
            }
            Link link = new Link(linkIds.incrementAndGet(), client);
            links.add(link);
            Thread.ofVirtual().name(name + "-" + link.id + "-connect").start(link::open);
        }
    }

    private static void resetSocket(Socket socket) {
        try {
            // SO_LINGER 0 turns close() into an RST instead of a FIN.
            socket.setSoLinger(true, 0);
        } catch (IOException ignored) {
            // Already closed: nothing left to reset.
        }
        closeQuietly(socket);
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception ignored) {
            // Closing is best effort: the peer learns either way.
        }
    }

    /** A chunk of bytes read from one side, or the end of that side's stream when {@code bytes} is null. */
    private record Chunk(byte @Nullable [] bytes, long readAt) {}

    /** One proxied connection: a client socket, its upstream socket and four pump threads. */
    private final class Link {

        private final int id;
        private final Socket client;
        private final AtomicBoolean dead = new AtomicBoolean();
        private final AtomicInteger openDirections = new AtomicInteger(2);
        private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
        private volatile @Nullable Socket upstream;

        Link(int id, Socket client) {
            this.id = id;
            this.client = client;
        }

        void open() {
            Socket target = new Socket();
            upstream = target;
            try {
                target.connect(
                        new InetSocketAddress(targetHost, targetPort), Math.toIntExact(CONNECT_TIMEOUT.toMillis()));
                client.setTcpNoDelay(true);
                target.setTcpNoDelay(true);
            } catch (IOException e) {
                LOG.debug("{}-{}: could not connect to {}:{}", name, id, targetHost, targetPort, e);
                reset();
                return;
            }
            if (dead.get()) {
                resetSocket(target);
                return;
            }
            pump("up", client, target);
            pump("down", target, client);
        }

        private void pump(String direction, Socket from, Socket to) {
            BlockingQueue<Chunk> queue = new ArrayBlockingQueue<>(QUEUED_CHUNKS);
            start(direction + "-read", () -> readLoop(from, queue));
            start(direction + "-write", () -> writeLoop(queue, to));
        }

        private void start(String role, Runnable loop) {
            Thread thread = Thread.ofVirtual()
                    .name(name + "-" + id + "-" + role)
                    .unstarted(() -> {
                        try {
                            loop.run();
                        } finally {
                            threads.remove(Thread.currentThread());
                        }
                    });
            threads.add(thread);
            thread.start();
            if (dead.get()) {
                thread.interrupt();
            }
        }

        private void readLoop(Socket from, BlockingQueue<Chunk> queue) {
            byte[] buffer = new byte[CHUNK_BYTES];
            try {
                InputStream in = from.getInputStream();
                for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                    queue.put(new Chunk(Arrays.copyOf(buffer, n), System.nanoTime()));
                }
                queue.put(new Chunk(null, System.nanoTime()));
            } catch (IOException e) {
                failed(e);
            } catch (InterruptedException e) {
                // Reset by the proxy.
            }
        }

        private void writeLoop(BlockingQueue<Chunk> queue, Socket to) {
            try {
                OutputStream out = to.getOutputStream();
                while (true) {
                    Chunk chunk = queue.take();
                    awaitRelease(chunk.readAt());
                    if (dead.get()) {
                        return;
                    }
                    byte[] bytes = chunk.bytes();
                    if (bytes == null) {
                        to.shutdownOutput();
                        directionFinished();
                        return;
                    }
                    out.write(bytes);
                    out.flush();
                }
            } catch (IOException e) {
                failed(e);
            } catch (InterruptedException e) {
                // Reset by the proxy.
            }
        }

        /** Both peers sent FIN and both FINs were delivered: close quietly, the way a healthy network would. */
        private void directionFinished() {
            if (openDirections.decrementAndGet() == 0 && !dead.getAndSet(true)) {
                closeQuietly(client);
                Socket target = upstream;
                if (target != null) {
                    closeQuietly(target);
                }
                links.remove(this);
            }
        }

        /** A peer reset or vanished: pass the reset on to the other peer. */
        private void failed(IOException e) {
            if (!dead.get()) {
                LOG.debug("{}-{}: {}; resetting", name, id, e.toString());
                reset();
            }
        }

        void reset() {
            if (dead.getAndSet(true)) {
                return;
            }
            links.remove(this);
            resetSocket(client);
            Socket target = upstream;
            if (target != null) {
                resetSocket(target);
            }
            threads.forEach(Thread::interrupt);
        }
    }
}

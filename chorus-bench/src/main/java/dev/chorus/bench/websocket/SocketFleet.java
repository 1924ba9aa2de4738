package dev.chorus.bench.websocket;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Thousands of client WebSockets on one selector thread: the client side of the {@code websocket-scale}
 * scenario, in a process of its own because a process holds at most ~19,900 sockets here.
 *
 * <p>Invariants: every field is read and written on the selector thread only; other threads hand it work
 * through {@link #onLoop}, whose futures complete on that thread. At most {@value #MAX_IN_FLIGHT} first
 * connections are between connect and hello at once, so the server's accept queue (4,096) never overflows
 * into SYN retries that would look like slow handshakes; reconnects after a drop are not held back, because
 * a storm of real clients is not coordinated either. Each socket is either pending, in flight, holding a
 * hello, closing, or closed, and {@link #inFlight} holds exactly the in-flight ones.
 */
final class SocketFleet implements AutoCloseable {

    static final int MAX_IN_FLIGHT = 128;

    /**
     * A socket the server has said nothing on for this long gets a ping: under the 30 s after which Jetty
     * closes an idle WebSocket, and over the 25 s after which a server that pings its sockets does so itself.
     */
    static final long DEFAULT_KEEPALIVE_MILLIS = 27_000;

    private static final long TICK_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long WAITER_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long HELLO_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final long CLOSE_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

    private static final int LAST_SOURCE_OCTET = 254;

    private static final byte[] TYPE = JsonFields.key("type");
    private static final byte[] ID = JsonFields.key("id");
    private static final byte[] T = JsonFields.key("t");
    private static final byte[] JITTER = JsonFields.key("reconnectJitterMs");
    private static final byte[] EVENT = bytes("event");
    private static final byte[] HELLO = bytes("hello");
    private static final byte[] RELOAD = bytes("reload");
    private static final byte[] KEEPALIVE = bytes("keepalive");

    private final Selector selector;
    private final Thread thread;
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final List<Waiter> waiters = new ArrayList<>();
    private final ByteBuffer readBuffer = ByteBuffer.allocate(64 * 1024);
    private final SplittableRandom random = new SplittableRandom();
    private final String sourcePrefix;
    private final int perSource;

    private final List<ClientSocket> sockets = new ArrayList<>();
    private final ArrayDeque<ClientSocket> pending = new ArrayDeque<>();
    private final PriorityQueue<ClientSocket> reconnects =
            new PriorityQueue<>(Comparator.comparingLong(s -> s.reconnectAtNanos));
    private final Set<ClientSocket> inFlight = Collections.newSetFromMap(new IdentityHashMap<>());

    private volatile boolean running = true;
    private int created;
    private long nextTickNanos = System.nanoTime();
    private long nextWaiterCheckNanos = System.nanoTime();
    private InetSocketAddress target = new InetSocketAddress(InetAddress.getLoopbackAddress(), 8080);
    private String path = "/ws/events";
    private String token = "";
    private long keepaliveNanos = TimeUnit.MILLISECONDS.toNanos(DEFAULT_KEEPALIVE_MILLIS);

    private @Nullable InetSocketAddress stormTarget;
    private int stormJitterMs;
    private long stormDeadlineNanos;

    private final FleetCounters counters = new FleetCounters();

    /** A condition the selector thread checks after every round, until it holds or its deadline passes. */
    private record Waiter(BooleanSupplier done, long deadlineNanos, CompletableFuture<Boolean> result) {}

    SocketFleet(String sourcePrefix, int perSource) throws IOException {
        this.sourcePrefix = sourcePrefix;
        this.perSource = perSource;
        this.selector = Selector.open();
        this.thread = Thread.ofPlatform().name("socket-fleet").start(this::loop);
    }

    CompletableFuture<String> target(String host, int port, String newPath) {
        return onLoop(() -> {
            target = new InetSocketAddress(host, port);
            path = newPath;
            return done("target=" + host + ":" + port + newPath);
        });
    }

    CompletableFuture<String> token(String newToken) {
        return onLoop(() -> {
            token = newToken;
            return done("token set");
        });
    }

    CompletableFuture<String> keepalive(long millis) {
        return onLoop(() -> {
            keepaliveNanos = TimeUnit.MILLISECONDS.toNanos(millis);
            return done("keepalive=" + millis);
        });
    }

    /** Opens sockets until {@code total} are open or failed, each counted open once its hello arrived. */
    CompletableFuture<String> open(int total, long timeoutMillis) {
        return onLoop(() -> {
            long started = System.nanoTime();
            long failedBefore = counters.failures();
            prune();
            for (int i = sockets.size(); i < total; i++) {
                ClientSocket socket = new ClientSocket(this, created, source(created));
                created++;
                sockets.add(socket);
                pending.add(socket);
            }
            return until(() -> pending.isEmpty() && inFlight.isEmpty(), timeoutMillis)
                    .thenApply(all -> "ready=" + ready() + " failed=" + (counters.failures() - failedBefore)
                            + " ms=" + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " complete="
                            + all + " error=" + counters.firstError());
        });
    }

    /** Disarms a storm and closes every socket. */
    CompletableFuture<String> closeAll(long timeoutMillis) {
        return onLoop(() -> {
            stormTarget = null;
            reconnects.clear();
            List<ClientSocket> closing = List.copyOf(sockets);
            closing.forEach(this::closeOne);
            return until(() -> closing.stream().allMatch(s -> s.state == ClientSocket.State.CLOSED), timeoutMillis)
                    .thenApply(all -> {
                        sockets.clear();
                        return "closed=" + closing.size() + " complete=" + all;
                    });
        });
    }

    /** Forgets counts and latencies; events stamped before {@code since} (epoch µs) count as stale. */
    CompletableFuture<String> reset(long since) {
        return onLoop(() -> {
            counters.reset(since);
            return done("reset");
        });
    }

    /** Waits until {@code expected} events arrived, or none for {@code quietMillis}, or {@code maxMillis}. */
    CompletableFuture<String> drain(long expected, long quietMillis, long maxMillis) {
        return onLoop(() -> {
            counters.quietFromNow();
            long quiet = TimeUnit.MILLISECONDS.toNanos(quietMillis);
            return until(
                            () -> counters.events() >= expected
                                    || System.nanoTime() - counters.lastEventNanos() > quiet,
                            maxMillis)
                    .thenApply(ignored -> "events=" + counters.events());
        });
    }

    CompletableFuture<String> stats() {
        return onLoop(() -> done(counters.stats(ready())));
    }

    /**
     * Arms a reconnect storm: from now on a socket that drops reconnects to {@code host:port} with its last
     * event id, after a random delay of up to the hello's {@code reconnectJitterMs} (or {@code jitterMillis}
     * when the hello had none), retrying failed attempts with backoff for {@code windowMillis}.
     */
    CompletableFuture<String> arm(String host, int port, int jitterMillis, long windowMillis) {
        return onLoop(() -> {
            stormTarget = new InetSocketAddress(host, port);
            stormJitterMs = jitterMillis;
            stormDeadlineNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(windowMillis);
            for (ClientSocket socket : sockets) {
                socket.droppedAtMicros = socket.backAtMicros = socket.reloadAtMicros = 0;
                socket.attempts = 0;
            }
            long advertised = sockets.stream().filter(s -> s.jitterMs >= 0).count();
            return done("armed sockets=" + sockets.size() + " advertisedJitter=" + advertised);
        });
    }

    /**
     * Waits until every socket has dropped and is back with a hello, or {@code maxMillis}; then {@code
     * settleMillis} more, for the reload frames that follow a hello; reports times since {@code killMicros}.
     */
    CompletableFuture<String> stormReport(long killMicros, long maxMillis, long settleMillis) {
        return onLoop(() -> until(() -> sockets.stream().allMatch(s -> s.backAtMicros > 0), maxMillis)
                .thenCompose(all -> until(() -> false, settleMillis))
                .thenApply(ignored -> counters.storm(sockets, killMicros, ready())));
    }

    @Override
    public void close() {
        running = false;
        selector.wakeup();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A fresh mask key for a client frame; the sockets' callbacks below run on the selector thread. */
    int nextMask() {
        return random.nextInt();
    }

    void onServerPing() {
        counters.serverPing();
    }

    /** A complete text frame arrived on {@code socket}: a hello, an event, a reload or a pong. */
    void onText(ClientSocket socket, byte[] data, int offset, int length) {
        if (JsonFields.stringEquals(data, offset, length, TYPE, EVENT)) {
            socket.lastId = JsonFields.string(data, offset, length, ID);
            counters.event(JsonFields.number(data, offset, length, T, -1));
        } else if (JsonFields.stringEquals(data, offset, length, TYPE, HELLO)) {
            counters.hello();
            if (!socket.hello) {
                socket.hello = true;
                leaveFlight(socket);
            }
            socket.lastId = JsonFields.string(data, offset, length, ID);
            socket.jitterMs = (int) JsonFields.number(data, offset, length, JITTER, -1);
            if (socket.droppedAtMicros > 0 && socket.backAtMicros == 0) {
                socket.backAtMicros = epochMicros();
            }
            socket.reconnecting = false;
        } else if (JsonFields.stringEquals(data, offset, length, TYPE, RELOAD)) {
            counters.reload();
            String id = JsonFields.string(data, offset, length, ID);
            if (id != null) {
                socket.lastId = id;
            }
            if (socket.backAtMicros > 0 && socket.reloadAtMicros == 0) {
                socket.reloadAtMicros = epochMicros();
            }
        }
    }

    /** {@code socket}'s connection ended: asked for, failed before its hello, or dropped after it. */
    void onClosed(ClientSocket socket, @Nullable String error) {
        boolean hadHello = socket.hello;
        leaveFlight(socket);
        if (socket.closeRequested) {
            return;
        }
        long now = System.nanoTime();
        if (hadHello) {
            counters.drop(socket.serverCloseCode);
            if (stormTarget != null && socket.droppedAtMicros == 0) {
                socket.droppedAtMicros = epochMicros();
                int jitter = socket.jitterMs >= 0 ? socket.jitterMs : stormJitterMs;
                schedule(socket, now + TimeUnit.MILLISECONDS.toNanos(random.nextInt(jitter + 1)));
            }
            return;
        }
        counters.failure(error != null ? error : "closed before its hello, code " + socket.serverCloseCode);
        if (stormTarget != null && socket.droppedAtMicros > 0 && now < stormDeadlineNanos) {
            // Full jitter over an exponential backoff from 100 ms to 2 s, as a client library would.
            long ceiling = Math.min(2_000, 100L << Math.min(socket.attempts, 5));
            schedule(socket, now + TimeUnit.MILLISECONDS.toNanos(random.nextLong(ceiling + 1)));
        }
    }

    private void loop() {
        try {
            while (running) {
                long wait = TimeUnit.NANOSECONDS.toMillis(Math.max(0, nextWakeNanos() - System.nanoTime()));
                selector.select(this::ready, Math.max(1, wait));
                Runnable task;
                while ((task = tasks.poll()) != null) {
                    task.run();
                }
                long now = System.nanoTime();
                startConnects(now);
                if (now - nextTickNanos >= 0) {
                    tick(now);
                    nextTickNanos = now + TICK_NANOS;
                }
                // Conditions look at every socket: checked every 10 ms, not after every round of the loop.
                if (now - nextWaiterCheckNanos >= 0) {
                    checkWaiters(now);
                    nextWaiterCheckNanos = now + WAITER_CHECK_NANOS;
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            e.printStackTrace();
            List.copyOf(waiters).forEach(w -> w.result().completeExceptionally(e));
            waiters.clear();
            running = false;
        } finally {
            sockets.forEach(s -> s.abort(null));
            try {
                selector.close();
            } catch (IOException ignored) {
                // the process is ending
            }
        }
    }

    private void ready(SelectionKey key) {
        ClientSocket socket = (ClientSocket) key.attachment();
        if (key.isValid() && key.isConnectable()) {
            socket.onConnectable();
            return;
        }
        if (key.isValid() && key.isWritable()) {
            socket.onWritable();
        }
        if (key.isValid() && key.isReadable()) {
            socket.onReadable(readBuffer);
        }
    }

    private long nextWakeNanos() {
        long next =
                waiters.isEmpty() || nextWaiterCheckNanos - nextTickNanos > 0 ? nextTickNanos : nextWaiterCheckNanos;
        ClientSocket due = reconnects.peek();
        if (due != null && due.reconnectAtNanos - next < 0) {
            next = due.reconnectAtNanos;
        }
        return next;
    }

    private void startConnects(long now) {
        while (inFlight.size() < MAX_IN_FLIGHT && !pending.isEmpty()) {
            connect(pending.poll(), target, null, now);
        }
        ClientSocket due;
        InetSocketAddress storm = stormTarget;
        while (storm != null && (due = reconnects.peek()) != null && due.reconnectAtNanos - now <= 0) {
            reconnects.poll();
            due.attempts++;
            connect(due, storm, due.lastId, now);
        }
    }

    private void connect(ClientSocket socket, InetSocketAddress to, @Nullable String lastId, long now) {
        String key = Frames.newKey(random);
        String query = "access_token=" + URLEncoder.encode(token, StandardCharsets.UTF_8)
                + (lastId == null ? "" : "&lastEventId=" + URLEncoder.encode(lastId, StandardCharsets.UTF_8));
        String request = "GET " + path + "?" + query + " HTTP/1.1\r\n"
                + "Host: " + to.getHostString() + ":" + to.getPort() + "\r\n"
                + "Upgrade: websocket\r\n"
                + "Connection: Upgrade\r\n"
                + "Sec-WebSocket-Key: " + key + "\r\n"
                + "Sec-WebSocket-Version: 13\r\n\r\n";
        inFlight.add(socket);
        socket.connect(selector, to, request, key, now);
    }

    /** Keepalive pings for sockets the server has been silent on, and the ends of waits that last too long. */
    private void tick(long now) {
        for (ClientSocket socket : sockets) {
            switch (socket.state) {
                case OPEN -> {
                    if (!socket.hello && now - socket.stateSinceNanos > HELLO_TIMEOUT_NANOS) {
                        socket.abort("no hello within 30 s");
                    } else if (socket.hello && now - socket.lastHeardNanos > keepaliveNanos) {
                        // Jetty closes a socket idle for 30 s unless the server pings; a ping it answers keeps it open.
                        socket.sendFrame(Frames.PING, KEEPALIVE);
                        socket.lastHeardNanos = now;
                        counters.ping();
                    }
                }
                case CONNECTING, HANDSHAKE -> {
                    if (now - socket.stateSinceNanos > HELLO_TIMEOUT_NANOS) {
                        socket.abort("no handshake within 30 s (" + socket.state + ")");
                    }
                }
                case CLOSING -> {
                    if (now - socket.stateSinceNanos > CLOSE_TIMEOUT_NANOS) {
                        socket.abort(null);
                    }
                }
                default -> {
                    // IDLE sockets wait in pending; CLOSED ones are done or scheduled to reconnect
                }
            }
        }
    }

    private void checkWaiters(long now) {
        // Over a copy: completing a waiter may chain another (stormReport's settle) onto the list.
        for (Waiter waiter : List.copyOf(waiters)) {
            boolean done = waiter.done().getAsBoolean();
            if (done || now - waiter.deadlineNanos() >= 0) {
                waiters.remove(waiter);
                waiter.result().complete(done);
            }
        }
    }

    private <T> CompletableFuture<T> onLoop(Supplier<CompletableFuture<T>> action) {
        CompletableFuture<T> result = new CompletableFuture<>();
        tasks.add(() -> {
            try {
                action.get().whenComplete((value, error) -> {
                    if (error != null) {
                        result.completeExceptionally(error);
                    } else {
                        result.complete(value);
                    }
                });
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
            }
        });
        selector.wakeup();
        if (!running) {
            result.completeExceptionally(new IllegalStateException("the socket fleet has stopped"));
        }
        return result;
    }

    /** Completes with true once {@code done} holds, with false after {@code maxMillis}; on this thread. */
    private CompletableFuture<Boolean> until(BooleanSupplier done, long maxMillis) {
        CompletableFuture<Boolean> result = new CompletableFuture<>();
        waiters.add(new Waiter(done, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxMillis), result));
        return result;
    }

    private void schedule(ClientSocket socket, long atNanos) {
        socket.reconnecting = true;
        socket.reconnectAtNanos = atNanos;
        reconnects.add(socket);
    }

    private void closeOne(ClientSocket socket) {
        if (pending.remove(socket)) {
            socket.state = ClientSocket.State.CLOSED;
            socket.closeRequested = true;
            return;
        }
        reconnects.remove(socket);
        socket.reconnecting = false;
        socket.close(Frames.NORMAL);
    }

    private void leaveFlight(ClientSocket socket) {
        inFlight.remove(socket);
    }

    /** Forgets sockets that closed for good (failed, or closed on request); storm sockets wait to reconnect. */
    private void prune() {
        sockets.removeIf(s -> s.state == ClientSocket.State.CLOSED && !s.reconnecting);
    }

    private int ready() {
        int ready = 0;
        for (ClientSocket socket : sockets) {
            if (socket.hello && socket.state == ClientSocket.State.OPEN) {
                ready++;
            }
        }
        return ready;
    }

    private InetAddress source(int index) {
        int octet = 2 + index / perSource;
        if (octet > LAST_SOURCE_OCTET) {
            throw new IllegalStateException("more sockets than " + sourcePrefix + "2-" + LAST_SOURCE_OCTET
                    + " can hold at " + perSource + " per address");
        }
        try {
            return InetAddress.getByName(sourcePrefix + octet);
        } catch (UnknownHostException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static CompletableFuture<String> done(String reply) {
        return CompletableFuture.completedFuture(reply);
    }

    /** Now, in microseconds since the epoch: what the scenario stamps events with, on the same clock. */
    static long epochMicros() {
        Instant now = Instant.now();
        return TimeUnit.SECONDS.toMicros(now.getEpochSecond()) + now.getNano() / 1_000;
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }
}

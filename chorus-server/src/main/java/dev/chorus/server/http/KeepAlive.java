package dev.chorus.server.http;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * One timer for every socket of the replica, instead of a scheduled task per socket (18,000 sockets would be
 * 18,000 tasks in the scheduler's heap, and one more map entry each to forget on close). Each tick walks the
 * open sockets, which costs a few volatile reads per socket: about 20 µs per 1,000 sockets, at most four times
 * a second. A socket is pinged once it has been silent for the ping interval, so pings spread over the
 * interval by when each socket last spoke, and a chatty client is not pinged at all.
 *
 * Why our own pings, not Jetty's idle timeout: Jetty counts writes as activity, so a server that pings (or
 * sends events to) a dead peer never times it out; the kernel accepts the writes until its buffer fills,
 * which at one ping per interval takes days. Only a pong, or any frame, from the peer proves it alive.
 */

/** Pings every open socket that has been silent for the ping interval and closes those that do not answer. */
final class KeepAlive implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KeepAlive.class);

    private final long intervalNanos;
    private final long timeoutNanos;
    private final Set<LiveSocket> sockets = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService timer;

    KeepAlive(Duration interval, Duration timeout) {
        this.intervalNanos = interval.toNanos();
        this.timeoutNanos = timeout.toNanos();
        // A platform thread: one per replica, and a tick must not wait for a carrier behind busy sinks.
        this.timer = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("chorus-ws-keepalive").daemon().factory());
        long tick = Math.clamp(
                Math.min(intervalNanos, timeoutNanos) / 4,
                TimeUnit.MILLISECONDS.toNanos(10),
                TimeUnit.SECONDS.toNanos(1));
        timer.scheduleWithFixedDelay(this::tick, tick, tick, TimeUnit.NANOSECONDS);
    }

    void add(LiveSocket socket) {
        sockets.add(socket);
    }

    void remove(LiveSocket socket) {
        sockets.remove(socket);
    }

    /** Sockets open on this replica, of every kind. */
    int size() {
        return sockets.size();
    }

    private void tick() {
        long now = System.nanoTime();
        for (LiveSocket socket : sockets) {
            try {
                socket.keepAlive(now, intervalNanos, timeoutNanos);
            } catch (RuntimeException e) {
                LOG.warn("Keep-alive of a socket failed; it is tried again at the next tick", e);
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}

package dev.chorus.server.http;

import dev.chorus.server.auth.Principal;
import java.time.Duration;
import java.util.Map;
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
 *
 * The same tick closes a socket whose token expired, so "a socket lives no longer than its token" costs
 * nothing more; and the register of open sockets is where the per-user cap is counted.
 */

/**
 * Watches every open socket: pings the silent ones and drops those that do not answer, closes those whose
 * token expired, and refuses a user more sockets than the cap.
 */
final class SocketWatch implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SocketWatch.class);

    /** A user within its tenant: whose sockets the cap counts. */
    private record Owner(String tenant, String user) {}

    private final long intervalNanos;
    private final long timeoutNanos;
    private final int maxPerUser;
    private final Duration tick;
    private final Set<LiveSocket> sockets = ConcurrentHashMap.newKeySet();
    private final Map<Owner, Integer> perUser = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer;

    SocketWatch(SocketOptions options) {
        this.intervalNanos = options.pingInterval().toNanos();
        this.timeoutNanos = options.pongTimeout().toNanos();
        this.maxPerUser = options.maxPerUser();
        this.tick = options.watchTick();
        // A platform thread: one per replica, and a tick must not wait for a carrier behind busy sinks.
        this.timer = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("chorus-ws-watch").daemon().factory());
        timer.scheduleWithFixedDelay(this::tick, tick.toNanos(), tick.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Registers an opened socket; false, registering nothing, when its user already has the most allowed. */
    boolean add(LiveSocket socket, Principal principal) {
        boolean[] admitted = {false};
        perUser.compute(new Owner(principal.tenant(), principal.user()), (owner, open) -> {
            int count = open == null ? 0 : open;
            if (count >= maxPerUser) {
                return open;
            }
            admitted[0] = true;
            return count + 1;
        });
        if (admitted[0]) {
            sockets.add(socket);
        }
        return admitted[0];
    }

    /** Forgets a socket {@link #add} admitted. */
    void remove(LiveSocket socket, Principal principal) {
        if (sockets.remove(socket)) {
            perUser.computeIfPresent(
                    new Owner(principal.tenant(), principal.user()), (owner, open) -> open <= 1 ? null : open - 1);
        }
    }

    /** The cap on one user's open sockets. */
    int maxPerUser() {
        return maxPerUser;
    }

    private void tick() {
        long now = System.nanoTime();
        long wallMillis = System.currentTimeMillis();
        for (LiveSocket socket : sockets) {
            try {
                socket.watch(now, wallMillis, intervalNanos, timeoutNanos);
            } catch (RuntimeException e) {
                LOG.warn("Watching a socket failed; it is looked at again at the next tick", e);
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}

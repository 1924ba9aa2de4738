package dev.chorus.postgres;

import dev.chorus.Backoff;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/*
 * The one listening connection of a replica. pgjdbc can only poll for notifications (measured: p50
 * 114-171 ms under steady load), so this connection uses vertx-pg-client, which pushes each notification
 * to a handler as soon as its bytes arrive.
 *
 * Life cycle, on the virtual thread chorus-postgres-listener:
 *   connect -> LISTEN "<channel>" -> up (report restored) -> wait until lost -> report lost -> backoff -> ...
 * "Lost" is any of: the socket closed (server restart, pg_terminate_backend, reset), or a ping (SELECT 1
 * every pingInterval) unanswered for pingTimeout — the only way to notice a frozen link, which never
 * closes by itself. pingInterval + pingTimeout stays under 5 s so a dead listener is noticed within 5 s.
 */

/** Keeps one LISTEN connection alive and hands every notification payload to a consumer. */
final class NotificationListener implements AutoCloseable {

    /** What the listener reports to its backplane. */
    interface Events {
        /** LISTEN succeeded on a fresh connection. */
        void listening(String how);

        /** The connection is gone or could not be made; the listener retries after a backoff. */
        void lost(String reason, @Nullable Throwable cause);
    }

    private final PostgresDatabase database;
    private final String channel;
    private final Backoff backoff;
    private final Duration pingInterval;
    private final Duration pingTimeout;
    private final Consumer<String> payloads;
    private final Events events;
    private final Vertx vertx;
    private final CountDownLatch closed = new CountDownLatch(1);
    private final AtomicLong generation = new AtomicLong();
    private volatile @Nullable PgConnection connection;
    private volatile @Nullable CompletableFuture<String> lostSignal;
    private @Nullable Thread thread;

    NotificationListener(
            PostgresDatabase database,
            String channel,
            Backoff backoff,
            Duration pingInterval,
            Duration pingTimeout,
            Consumer<String> payloads,
            Events events) {
        this.database = database;
        this.channel = channel;
        this.backoff = backoff;
        this.pingInterval = pingInterval;
        this.pingTimeout = pingTimeout;
        this.payloads = payloads;
        this.events = events;
        this.vertx = Vertx.builder()
                .with(new io.vertx.core.VertxOptions()
                        .setEventLoopPoolSize(1)
                        .setWorkerPoolSize(1)
                        .setInternalBlockingPoolSize(1)
                        .setBlockedThreadCheckInterval(10)
                        .setBlockedThreadCheckIntervalUnit(TimeUnit.SECONDS))
                .build();
    }

    void start() {
        thread = Thread.ofVirtual().name("chorus-postgres-listener").start(this::run);
    }

    private void run() {
        Backoff.Attempts attempts = backoff.attempts();
        while (closed.getCount() > 0) {
            String reason;
            Throwable cause = null;
            try {
                reason = listenUntilLost();
                attempts.reset();
            } catch (Exception e) {
                cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
                String hint = ListenerTls.hint(cause, database.parameters());
                reason = "cannot LISTEN on " + database.describe() + ": " + describe(e)
                        + (hint == null ? "" : " (" + hint + ")");
            }
            if (closed.getCount() == 0) {
                return;
            }
            events.lost(reason, cause);
            Duration delay = attempts.next();
            try {
                if (closed.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Connects, listens, and blocks until the connection is lost; returns why. */
    private String listenUntilLost() throws Exception {
        long myGeneration = generation.incrementAndGet();
        CompletableFuture<String> lost = new CompletableFuture<>();
        lostSignal = lost;
        PgConnection conn = await(PgConnection.connect(vertx, connectOptions()), Duration.ofSeconds(10));
        connection = conn;
        conn.closeHandler(v -> lost.complete(
                "the listening connection was closed (server restart," + " pg_terminate_backend or a network reset)"));
        conn.exceptionHandler(t -> lost.complete("the listening connection failed: " + describe(t)));
        conn.notificationHandler(notification -> {
            if (generation.get() == myGeneration && channel.equals(notification.getChannel())) {
                payloads.accept(notification.getPayload());
            }
        });
        try {
            await(conn.query("LISTEN \"" + channel + "\"").execute(), pingTimeout.plusSeconds(5));
            if (closed.getCount() == 0) {
                return "closed";
            }
            events.listening(
                    "LISTEN \"" + channel + "\" on " + database.describe() + " (backend pid " + conn.processId() + ")");
            long timer = vertx.setPeriodic(pingInterval.toMillis(), id -> ping(conn, lost));
            try {
                return lost.get();
            } finally {
                vertx.cancelTimer(timer);
            }
        } finally {
            connection = null;
            conn.close();
        }
    }

    private void ping(PgConnection conn, CompletableFuture<String> lost) {
        long sent = System.nanoTime();
        long watchdog = vertx.setTimer(
                pingTimeout.toMillis(),
                id -> lost.complete("PostgreSQL did not answer a" + " ping on the listening connection within "
                        + pingTimeout.toMillis() + " ms (frozen link?)"));
        conn.query("SELECT 1").execute().onComplete(result -> {
            vertx.cancelTimer(watchdog);
            if (result.failed()) {
                lost.complete("a ping on the listening connection failed: " + describe(result.cause()));
            } else {
                lastPingNanos = System.nanoTime() - sent;
            }
        });
    }

    private volatile long lastPingNanos = -1;

    /** Round-trip time of the last successful ping, or -1. */
    long lastPingNanos() {
        return lastPingNanos;
    }

    /** The backend pid of the listening connection, or -1 while there is none. */
    int backendPid() {
        PgConnection c = connection;
        return c == null ? -1 : c.processId();
    }

    /** Whether a LISTEN connection is currently open. */
    boolean isListening() {
        return connection != null;
    }

    private PgConnectOptions connectOptions() {
        PgConnectOptions options = new PgConnectOptions()
                .setHost(database.host())
                .setPort(database.port())
                .setDatabase(database.database())
                .setUser(database.user())
                .setPipeliningLimit(1)
                .setProperties(Map.of("application_name", "chorus-listener"));
        if (database.password() != null) {
            options.setPassword(database.password());
        }
        ListenerTls.apply(options, database.parameters(), Path.of(System.getProperty("user.home", ".")));
        return options;
    }

    private static <T> T await(io.vertx.core.Future<T> future, Duration timeout)
            throws InterruptedException, ExecutionException, TimeoutException {
        return future.toCompletionStage().toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    static String describe(Throwable t) {
        Throwable root = t instanceof ExecutionException && t.getCause() != null ? t.getCause() : t;
        if (root instanceof TimeoutException) {
            return "timed out";
        }
        return root.getClass().getSimpleName() + (root.getMessage() == null ? "" : ": " + root.getMessage());
    }

    @Override
    public void close() {
        if (closed.getCount() == 0) {
            return;
        }
        closed.countDown();
        CompletableFuture<String> lost = lostSignal;
        if (lost != null) {
            lost.complete("closed");
        }
        Thread t = thread;
        if (t != null) {
            try {
                t.join(Duration.ofSeconds(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            // Shutting down anyway; Vert.x threads are daemons.
        }
    }
}

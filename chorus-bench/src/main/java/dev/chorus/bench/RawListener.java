package dev.chorus.bench;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.pgclient.PgConnection;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A bare LISTEN connection for the PostgreSQL baselines: vertx-pg-client with its own single-event-loop
 * {@link Vertx}, the same set-up as Chorus's listener, minus reconnects, pings and the hand-off to a
 * delivery thread. The handler runs on the event loop.
 */
final class RawListener implements AutoCloseable {

    /** Receives one notification payload on the listener's event loop. */
    @FunctionalInterface
    interface Handler {
        /** {@code receivedNanos} is {@link System#nanoTime()} read first thing in the notification callback. */
        void onPayload(String payload, long receivedNanos);
    }

    private static final long CONNECT_TIMEOUT_SECONDS = 10;

    private final Vertx vertx;
    private final PgConnection connection;

    private RawListener(Vertx vertx, PgConnection connection) {
        this.vertx = vertx;
        this.connection = connection;
    }

    /** Connects, installs {@code handler} and returns once {@code LISTEN channel} has completed. */
    static RawListener listen(BenchPostgres postgres, String channel, Handler handler) {
        Vertx vertx = Vertx.builder()
                .with(new VertxOptions()
                        .setEventLoopPoolSize(1)
                        .setWorkerPoolSize(1)
                        .setInternalBlockingPoolSize(1))
                .build();
        try {
            PgConnection connection = await(PgConnection.connect(vertx, postgres.listenOptions()));
            connection.notificationHandler(notification -> {
                long now = System.nanoTime();
                handler.onPayload(notification.getPayload(), now);
            });
            await(connection.query("LISTEN \"" + channel + "\"").execute());
            return new RawListener(vertx, connection);
        } catch (RuntimeException e) {
            closeQuietly(vertx);
            throw e;
        }
    }

    private static <T> T await(Future<T> future) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(CONNECT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException(
                    "LISTEN connection failed: " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("LISTEN connection timed out after " + CONNECT_TIMEOUT_SECONDS + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while connecting", e);
        }
    }

    @Override
    public void close() {
        try {
            connection.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // The server drops the LISTEN with the connection either way.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly(vertx);
    }

    private static void closeQuietly(Vertx vertx) {
        try {
            vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // Event-loop threads are daemons; nothing holds the JVM.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package dev.chorus.bench.websocket;

import java.io.IOException;
import java.time.Duration;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;

/** The reference server's gauges of open event sockets, and waiting for them to reach zero. */
final class Gauges {

    /** Open {@code /ws/events} sockets, when the server exposes such a gauge. */
    static final String CONNECTIONS = "chorus_ws_connections";
    /** Sinks registered with the replica's event hub: one per open event socket. */
    static final String SINKS = "chorus_events_sinks";

    private static final long POLL_MILLIS = 100;

    private Gauges() {}

    /** {@link #CONNECTIONS} when the server has it, else {@link #SINKS}. */
    static String socketGauge(ChorusHttp server) throws IOException {
        return server.gauge(CONNECTIONS).isPresent() ? CONNECTIONS : SINKS;
    }

    /**
     * Polls {@code gauge} until it reads 0 or {@code timeout} passes (the server exposes a count, not a way
     * to wait for it), and returns the last value read; NaN at once when the server has no such gauge.
     */
    static double awaitZero(ChorusHttp server, String gauge, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            OptionalDouble value = server.gauge(gauge);
            double last = value.isPresent() ? value.getAsDouble() : Double.NaN;
            if (last == 0 || value.isEmpty() || System.nanoTime() - deadline > 0) {
                return last;
            }
            try {
                TimeUnit.MILLISECONDS.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return last;
            }
        }
    }

    /** {@link #awaitZero(ChorusHttp, String, Duration)} on the hub's sinks. */
    static double awaitZero(ChorusHttp server, Duration timeout) throws IOException {
        return awaitZero(server, SINKS, timeout);
    }
}

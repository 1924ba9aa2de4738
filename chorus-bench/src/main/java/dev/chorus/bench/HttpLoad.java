package dev.chorus.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * A closed-loop HTTP load generator: {@code connections} virtual threads, each with its own keep-alive
 * connection, send one request, read the whole response, and send the next at once, through a warmup and
 * then a measured period. Latency is request written → response read; requests/s counts responses completed
 * in the measured period.
 */
final class HttpLoad {

    /** What one exchange returned: enough to tell a good response from a bad one. */
    record Response(int status, long bodyBytes, boolean keepAlive) {}

    /** One connection of the generator, used by one thread only. */
    interface Connection extends AutoCloseable {
        /** Sends the request and reads the whole response. */
        Response exchange() throws IOException, InterruptedException;

        @Override
        void close() throws IOException;
    }

    /** Opens connections; called once per generator thread, and again after an error or a close. */
    @FunctionalInterface
    interface Connector {
        Connection open() throws IOException;
    }

    /**
     * What a run measured.
     *
     * @param requests responses completed within the measured period (and started in it)
     * @param perSecond {@code requests} divided by the measured period
     * @param latency their latencies
     * @param errors non-200 responses, responses of another length than expected, and exceptions, from the
     *     warmup and the measured period
     * @param opened connections opened, the first ones included: more than {@code connections} means some were
     *     closed and reopened
     * @param firstError what went wrong first, or null
     */
    record Result(
            long requests,
            double perSecond,
            LatencyRecorder latency,
            long errors,
            long opened,
            @Nullable String firstError) {}

    /** Backs off after a failed exchange so a dead server is not hammered in a tight loop. */
    private static final long ERROR_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private HttpLoad() {}

    /**
     * Runs {@code connections} loops for {@code warmupNanos} then {@code measuredNanos}; every response must be
     * a 200 with a body of {@code expectedBodyBytes}. {@code atMeasureStart} and {@code atMeasureEnd} run on the
     * calling thread when the measured period starts and ends, while the loops go on (to read the server's
     * counters over exactly that period).
     */
    static Result run(
            Connector connector,
            int connections,
            long expectedBodyBytes,
            long warmupNanos,
            long measuredNanos,
            Runnable atMeasureStart,
            Runnable atMeasureEnd) {
        CountDownLatch connected = new CountDownLatch(connections);
        CountDownLatch go = new CountDownLatch(1);
        long[] window = new long[2];
        AtomicReference<@Nullable String> firstError = new AtomicReference<>();
        List<Loop> loops = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < connections; i++) {
            Loop loop = new Loop(connector, expectedBodyBytes, connected, go, window, firstError);
            loops.add(loop);
            threads.add(Thread.ofVirtual().name("http-load-" + i).start(loop));
        }
        try {
            connected.await();
            // Written before the latch opens, read by the loops after it: the latch orders the two.
            window[0] = System.nanoTime() + warmupNanos;
            window[1] = window[0] + measuredNanos;
            go.countDown();
            parkUntil(window[0]);
            atMeasureStart.run();
            parkUntil(window[1]);
            atMeasureEnd.run();
            for (Thread thread : threads) {
                thread.join();
            }
        } catch (InterruptedException e) {
            threads.forEach(Thread::interrupt);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while generating load", e);
        }
        long requests = 0;
        long errors = 0;
        long opened = 0;
        List<LatencyRecorder> latencies = new ArrayList<>();
        for (Loop loop : loops) {
            requests += loop.requests;
            errors += loop.errors;
            opened += loop.opened;
            latencies.add(loop.latency);
        }
        double seconds = measuredNanos / 1e9;
        return new Result(
                requests, requests / seconds, LatencyRecorder.merged(latencies), errors, opened, firstError.get());
    }

    /** Waits for a point in time, not for another thread: the loops watch the same clock. */
    private static void parkUntil(long deadline) throws InterruptedException {
        for (long left = deadline - System.nanoTime(); left > 0; left = deadline - System.nanoTime()) {
            LockSupport.parkNanos(left);
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
        }
    }

    /** One generator thread; its counters are read after it has been joined. */
    private static final class Loop implements Runnable {
        private final Connector connector;
        private final long expectedBodyBytes;
        private final CountDownLatch connected;
        private final CountDownLatch go;
        private final long[] window;
        private final AtomicReference<@Nullable String> firstError;
        private final LatencyRecorder latency = new LatencyRecorder();
        private long requests;
        private long errors;
        private long opened;

        Loop(
                Connector connector,
                long expectedBodyBytes,
                CountDownLatch connected,
                CountDownLatch go,
                long[] window,
                AtomicReference<@Nullable String> firstError) {
            this.connector = connector;
            this.expectedBodyBytes = expectedBodyBytes;
            this.connected = connected;
            this.go = go;
            this.window = window;
            this.firstError = firstError;
        }

        @Override
        public void run() {
            Connection connection = null;
            try {
                connection = openOrNull();
                go.await();
                long measureFrom = window[0];
                long measureUntil = window[1];
                while (true) {
                    if (connection == null) {
                        connection = openOrNull();
                        if (connection == null) {
                            LockSupport.parkNanos(ERROR_BACKOFF_NANOS);
                            if (System.nanoTime() - measureUntil >= 0) {
                                return;
                            }
                            continue;
                        }
                    }
                    long start = System.nanoTime();
                    if (start - measureUntil >= 0) {
                        return;
                    }
                    Response response;
                    try {
                        response = connection.exchange();
                    } catch (IOException e) {
                        fail(e.toString());
                        closeQuietly(connection);
                        connection = null;
                        LockSupport.parkNanos(ERROR_BACKOFF_NANOS);
                        continue;
                    }
                    long end = System.nanoTime();
                    if (response.status() != 200 || response.bodyBytes() != expectedBodyBytes) {
                        fail("HTTP " + response.status() + " with " + response.bodyBytes() + " body bytes (expected 200"
                                + " with " + expectedBodyBytes + ")");
                    } else if (start - measureFrom >= 0 && end - measureUntil <= 0) {
                        latency.record(end - start);
                        requests++;
                    }
                    if (!response.keepAlive()) {
                        closeQuietly(connection);
                        connection = null;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                if (connection != null) {
                    closeQuietly(connection);
                }
            }
        }

        private @Nullable Connection openOrNull() {
            try {
                Connection connection = connector.open();
                opened++;
                return connection;
            } catch (IOException e) {
                fail("connect: " + e);
                return null;
            } finally {
                // The first call releases the starter even when connecting failed; later calls change nothing.
                connected.countDown();
            }
        }

        private void fail(String what) {
            errors++;
            firstError.compareAndSet(null, what);
        }

        private static void closeQuietly(Connection connection) {
            try {
                connection.close();
            } catch (IOException ignored) {
                // Already failed or finished; nothing to report.
            }
        }
    }
}

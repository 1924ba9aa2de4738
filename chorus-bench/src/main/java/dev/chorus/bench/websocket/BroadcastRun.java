package dev.chorus.bench.websocket;

import dev.chorus.bench.ResultRow;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Broadcasts to every open socket at a fixed rate through {@code POST /api/events}, each event stamped with
 * the wall-clock time of its POST, and reads from the client process how late each (socket, event) arrived.
 */
final class BroadcastRun {

    /** The fan-out target: p99 below this at 10 events/s to the largest size. */
    static final double TARGET_P99_MICROS = 100_000;

    /** How long a POST may take before its outcome counts as unknown: an overloaded server answers late. */
    private static final Duration POST_TIMEOUT = Duration.ofSeconds(60);
    /** After the last POST, how long deliveries may still come in before the rest count as missed. */
    private static final Duration DRAIN = Duration.ofSeconds(30);
    /** A pause in deliveries this long ends the drain early: the server has sent all it will. */
    private static final Duration QUIET = Duration.ofSeconds(3);

    private BroadcastRun() {}

    /** Runs {@code rate} events/s for {@code length} to the sockets the client holds and returns the row. */
    static ResultRow run(
            String scenario,
            String variant,
            ChorusHttp server,
            long serverPid,
            String token,
            FleetProcess fleet,
            int rate,
            Duration length,
            boolean targeted) {
        int sockets = Integer.parseInt(fleet.call("stats").get("ready"));
        fleet.call("reset " + SocketFleet.epochMicros());
        int count = (int) (rate * length.toSeconds());
        AtomicInteger sent = new AtomicInteger();
        AtomicInteger accepted = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        AtomicInteger unanswered = new AtomicInteger();
        AtomicLong slowestPost = new AtomicLong();
        AtomicReference<String> postError = new AtomicReference<>("-");
        CountDownLatch answered = new CountDownLatch(count);
        long started = System.nanoTime();
        double serverCpu = CpuTime.seconds(serverPid);
        double clientCpu = CpuTime.seconds(fleet.pid());
        ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor();
        try {
            ticker.scheduleAtFixedRate(
                    () -> {
                        if (sent.getAndIncrement() >= count) {
                            return;
                        }
                        long posted = System.nanoTime();
                        server.post(token, ChorusHttp.EVERYONE, SocketFleet.epochMicros(), POST_TIMEOUT)
                                .whenComplete((status, error) -> {
                                    slowestPost.accumulateAndGet(System.nanoTime() - posted, Math::max);
                                    if (error != null) {
                                        postError.compareAndSet("-", String.valueOf(error));
                                    }
                                    (error != null ? unanswered : status == 202 ? accepted : refused).incrementAndGet();
                                    answered.countDown();
                                });
                    },
                    0,
                    TimeUnit.SECONDS.toMicros(1) / rate,
                    TimeUnit.MICROSECONDS);
            if (!answered.await(length.plus(POST_TIMEOUT).plus(DRAIN).toMillis(), TimeUnit.MILLISECONDS)) {
                unanswered.addAndGet((int) answered.getCount());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during the broadcast run", e);
        } finally {
            ticker.shutdownNow();
        }
        long expected = (long) accepted.get() * sockets;
        fleet.call("drain " + expected + " " + QUIET.toMillis() + " " + DRAIN.toMillis(), DRAIN);
        double seconds = (System.nanoTime() - started) / 1e9;
        serverCpu = (CpuTime.seconds(serverPid) - serverCpu) / seconds;
        clientCpu = (CpuTime.seconds(fleet.pid()) - clientCpu) / seconds;
        Map<String, String> stats = fleet.call("stats");
        long received = Long.parseLong(stats.get("events"));
        double p99 = micros(stats.get("p99"));
        String target = !targeted
                ? ""
                : p99 < TARGET_P99_MICROS ? "; target p99 < 100 ms: met" : "; target p99 < 100 ms: MISSED";
        return new ResultRow(
                scenario,
                variant,
                String.format(Locale.ROOT, "broadcast %d/s to %,d sockets", rate, sockets),
                expected,
                received / seconds,
                micros(stats.get("p50")),
                p99,
                micros(stats.get("max")),
                Math.max(expected - received, 0),
                String.format(
                        Locale.ROOT,
                        "%,d events accepted in %d s (%d refused, %d unanswered within %d s, first failure: %s;"
                                + " slowest POST %,d ms); %s reloads; %s sockets dropped (codes %s); CPU cores used:"
                                + " server %.2f, clients %.2f%s",
                        accepted.get(),
                        length.toSeconds(),
                        refused.get(),
                        unanswered.get(),
                        POST_TIMEOUT.toSeconds(),
                        postError.get(),
                        TimeUnit.NANOSECONDS.toMillis(slowestPost.get()),
                        stats.get("reloads"),
                        stats.get("drops"),
                        stats.get("dropCodes"),
                        serverCpu,
                        clientCpu,
                        target));
    }

    private static double micros(String value) {
        long micros = Long.parseLong(value);
        return micros < 0 ? Double.NaN : micros;
    }
}

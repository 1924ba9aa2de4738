package dev.chorus.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Drives a {@link FanOut} in one of three modes and measures it: one message in flight, as fast as
 * possible, or at a fixed rate. Each call is one measured phase; warm up by calling it first with a
 * smaller count and ignoring the outcome.
 *
 * <p>A phase starts only when the previous one has been fully delivered (each waits for every receiver),
 * so resetting the receivers' latency recorders at its start races with no one. If deliveries stop for
 * longer than the stall timeout the phase ends early and reports what is missing as loss; the next phase
 * then first waits, up to the stall timeout again, for those late messages, so that they are not counted
 * as its own (which once showed as negative loss after a stalled warmup).
 */
final class FanOutDriver {

    private final FanOut fanOut;
    private final long stallNanos;
    /** Messages every receiver should have by now: all that this driver published, plus what came before. */
    private long expected;

    FanOutDriver(FanOut fanOut, Duration stallTimeout) {
        this.fanOut = fanOut;
        this.stallNanos = stallTimeout.toNanos();
        this.expected = fanOut.receivers().stream()
                .mapToLong(r -> r.delivered().get())
                .min()
                .orElse(0);
    }

    /** What one phase measured. */
    record Outcome(long messages, long elapsedNanos, long loss, LatencyRecorder latency, List<String> notes) {

        double msgsPerSecond() {
            return elapsedNanos == 0 ? 0 : messages * 1e9 / elapsedNanos;
        }

        /** This outcome as a result row, {@code extraNotes} after the driver's own notes. */
        ResultRow toRow(String scenario, String variant, String mode, List<String> extraNotes) {
            List<String> all = new ArrayList<>(notes);
            all.addAll(extraNotes);
            return new ResultRow(
                    scenario,
                    variant,
                    mode,
                    messages,
                    msgsPerSecond(),
                    latency.percentileMicros(50),
                    latency.percentileMicros(99),
                    latency.maxMicros(),
                    loss,
                    String.join("; ", all));
        }
    }

    /** Publishes one message, waits until every receiver has it, and repeats {@code count} times. */
    Outcome oneInFlight(int count) {
        Phase phase = new Phase();
        long start = System.nanoTime();
        long sent = 0;
        while (sent < count) {
            fanOut.publish(Payloads.stamped(System.nanoTime()));
            sent++;
            if (!phase.awaitAll(sent)) {
                break;
            }
        }
        return phase.finish(sent, System.nanoTime() - start);
    }

    /**
     * Publishes {@code count} messages as fast as the publisher can, never more than {@code window} ahead of
     * the slowest receiver, and waits until every receiver has all of them.
     */
    Outcome maxRate(int count, int window) {
        Phase phase = new Phase();
        long start = System.nanoTime();
        long sent = 0;
        boolean stalled = false;
        while (sent < count && !stalled) {
            if (sent - phase.slowest() >= window) {
                // Wait for half the window to drain, so the publisher parks once per half window, not per message.
                stalled = !phase.awaitAll(sent - window / 2);
                continue;
            }
            fanOut.publish(Payloads.stamped(System.nanoTime()));
            sent++;
        }
        if (!stalled) {
            phase.awaitAll(sent);
        }
        phase.note("publisher ≤ %,d msgs ahead of slowest receiver", window);
        return phase.finish(sent, System.nanoTime() - start);
    }

    /**
     * Publishes {@code count} messages at {@code perSecond} on an absolute schedule and waits until every
     * receiver has all of them. The publisher parks until each send is due; when it wakes late (parkNanos
     * overshoots by tens of µs) it sends what is overdue back to back, so the rate does not drift. It parks
     * rather than spins because on a small machine a spinning publisher takes a whole core from the
     * receivers it is measuring (measured on 2 cores: p99 ~4 ms spinning, under 1 ms parking). Latency is
     * measured from the actual send; how far sends fell behind schedule is noted.
     */
    Outcome fixedRate(int count, int perSecond) {
        Phase phase = new Phase();
        long interval = TimeUnit.SECONDS.toNanos(1) / perSecond;
        long first = System.nanoTime() + interval;
        long maxLag = 0;
        for (long i = 0; i < count; i++) {
            long due = first + i * interval;
            waitUntil(due);
            long now = System.nanoTime();
            maxLag = Math.max(maxLag, now - due);
            fanOut.publish(Payloads.stamped(now));
        }
        phase.awaitAll(count);
        phase.note("paced by parkNanos; max send lag behind schedule %,.1f µs", maxLag / 1000.0);
        return phase.finish(count, System.nanoTime() - first);
    }

    private static void waitUntil(long due) {
        long remaining;
        while ((remaining = due - System.nanoTime()) > 0) {
            LockSupport.parkNanos(remaining);
        }
    }

    /** Delivery counts and latencies of one phase, relative to where the receivers stood at its start. */
    private final class Phase {
        private final List<Receiver> receivers = fanOut.receivers();
        private final long[] base = new long[receivers.size()];
        private final long lossSignalsBase = fanOut.lossSignals();
        private final List<String> notes = new ArrayList<>();
        private boolean stalled;

        Phase() {
            long deadline = System.nanoTime() + stallNanos;
            long late = 0;
            for (Receiver receiver : receivers) {
                if (!receiver.delivered().awaitAtLeast(expected, deadline)) {
                    late += expected - receiver.delivered().get();
                }
            }
            if (late > 0) {
                note(
                        "%,d deliveries of an earlier phase had not arrived %d s after it ended; any that arrive"
                                + " now count in this phase",
                        late, TimeUnit.NANOSECONDS.toSeconds(stallNanos));
            }
            for (int i = 0; i < base.length; i++) {
                Receiver receiver = receivers.get(i);
                receiver.latency().reset();
                base[i] = receiver.delivered().get();
            }
        }

        /** Waits until every receiver has at least {@code deliveries} in this phase; false on a stall. */
        boolean awaitAll(long deliveries) {
            long deadline = System.nanoTime() + stallNanos;
            for (int i = 0; i < base.length; i++) {
                if (!receivers.get(i).delivered().awaitAtLeast(base[i] + deliveries, deadline)) {
                    stalled = true;
                    return false;
                }
            }
            return true;
        }

        long slowest() {
            long slowest = Long.MAX_VALUE;
            for (int i = 0; i < base.length; i++) {
                slowest = Math.min(slowest, receivers.get(i).delivered().get() - base[i]);
            }
            return slowest;
        }

        void note(String format, Object... args) {
            notes.add(String.format(Locale.ROOT, format, args));
        }

        Outcome finish(long sent, long elapsedNanos) {
            long received = 0;
            List<LatencyRecorder> latencies = new ArrayList<>();
            for (int i = 0; i < base.length; i++) {
                received += receivers.get(i).delivered().get() - base[i];
                latencies.add(receivers.get(i).latency());
            }
            if (stalled) {
                note("STALLED: no progress for %d s", TimeUnit.NANOSECONDS.toSeconds(stallNanos));
            }
            expected += sent;
            long signals = fanOut.lossSignals() - lossSignalsBase;
            if (signals > 0) {
                note("%d loss signals (onMissed or failed publish)", signals);
            }
            return new Outcome(
                    sent, elapsedNanos, sent * base.length - received, LatencyRecorder.merged(latencies), notes);
        }
    }
}

package dev.chorus.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * Drives a {@link PropagationSubject}: a writer paces writes on replica A over a rotating set of keys, each a
 * new version number, and one observer thread reads every written key on replica B until B returns that
 * version or newer, timing each write from just before A's write call to the read that saw it.
 *
 * <p>Just before each write the writer reads the key on B once, so B's cache holds it when A writes (see
 * {@link #run}). The writer hands each write (key, version, t0) to the observer before calling A, so the observer may
 * already be polling while A's call is in flight. The observer keeps the writes it has not yet seen in
 * write order and reads each of them once per round, then parks; it never spins, since on a small machine a
 * spinning observer takes a core from the replicas it measures. It reads all unseen writes in each round
 * rather than only the oldest: with one slow invalidation (Hazelcast flushes batches every 10 s) a strictly
 * one-at-a-time observer would charge that delay to every write queued behind it. A write B has not shown
 * after the give-up time counts as never resolved.
 */
final class PropagationDriver {

    /** Between observer rounds; parkNanos overshoots this by tens of µs, which bounds the resolution. */
    static final long POLL_NANOS = TimeUnit.MICROSECONDS.toNanos(30);

    private final PropagationSubject subject;
    private final List<String> keys;
    private final int perSecond;
    private final long giveUpNanos;
    private long nextVersion = 1;
    private int nextKey;

    PropagationDriver(PropagationSubject subject, int keyCount, int perSecond, long giveUpNanos) {
        this.subject = subject;
        this.keys = List.copyOf(subject.keys(keyCount));
        this.perSecond = perSecond;
        this.giveUpNanos = giveUpNanos;
    }

    /** What one phase measured. */
    record Outcome(
            long writes,
            long elapsedNanos,
            long unresolved,
            LatencyRecorder latency,
            long maxLagNanos,
            int maxPending,
            long firstRead,
            LatencyRecorder firstReadDelay) {

        /** Writes divided by the time from the first write's schedule to the last write's return. */
        double writesPerSecond() {
            return elapsedNanos == 0 ? 0 : writes * 1e9 / elapsedNanos;
        }

        /** This outcome as a result row, {@code notes} after the driver's own. */
        ResultRow toRow(String scenario, String variant, String mode, String notes) {
            List<String> all = new ArrayList<>();
            all.add(String.format(
                    Locale.ROOT,
                    "max write lag behind schedule %,.1f µs; ≤ %,d writes unseen at once; B's first read of a write"
                            + " came %,.1f µs after t0 (p50), %,.1f µs (p99) and returned the new value for %,d",
                    maxLagNanos / 1000.0,
                    maxPending,
                    firstReadDelay.percentileMicros(50),
                    firstReadDelay.percentileMicros(99),
                    firstRead));
            if (!notes.isEmpty()) {
                all.add(notes);
            }
            return new ResultRow(
                    scenario,
                    variant,
                    mode,
                    writes,
                    writesPerSecond(),
                    latency.percentileMicros(50),
                    latency.percentileMicros(99),
                    latency.maxMicros(),
                    unresolved,
                    String.join("; ", all));
        }
    }

    /**
     * Writes version 0 of every key on A and reads each on B until B has it, so B holds every key in its
     * cache before the first timed write; throws when B never shows one within the give-up time.
     */
    void preload() {
        long version = nextVersion++;
        for (String key : keys) {
            subject.write(key, version);
        }
        for (String key : keys) {
            long deadline = System.nanoTime() + giveUpNanos;
            while (subject.read(key) < version) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException(subject.name() + ": replica B never saw preloaded " + key);
                }
                LockSupport.parkNanos(POLL_NANOS);
            }
        }
    }

    /**
     * Writes at the configured rate for {@code durationNanos} on an absolute schedule, then waits until the
     * observer has seen or given up on every write.
     */
    Outcome run(long durationNanos) {
        long interval = TimeUnit.SECONDS.toNanos(1) / perSecond;
        long count = Math.max(1, durationNanos / interval);
        subject.startPhase();
        Observer observer = new Observer();
        Thread thread = Thread.ofPlatform().name("propagation-observer").start(observer);
        long first = System.nanoTime() + interval;
        long maxLag = 0;
        long elapsed = 0;
        try {
            for (long i = 0; i < count && observer.failure == null; i++) {
                long due = first + i * interval;
                waitUntil(due);
                String key = keys.get(nextKey);
                nextKey = (nextKey + 1) % keys.size();
                long version = nextVersion++;
                // B must hold the key when A writes, or its first read loads the new value from the source
                // and times nothing. The observer's last read of it does not ensure that: when that read came
                // before the invalidation of the write it saw, it loaded the value and the late invalidation
                // then dropped it, so every later write of the key would look instant.
                subject.read(key);
                long t0 = System.nanoTime();
                maxLag = Math.max(maxLag, t0 - due);
                observer.handoff.add(new Write(key, version, t0));
                subject.write(key, version);
            }
            // The write rate alone: the observer's wait for the last invalidations is not part of it.
            elapsed = System.nanoTime() - first;
        } finally {
            observer.writerDone = true;
            join(thread);
        }
        Throwable failure = observer.failure;
        if (failure != null) {
            throw new IllegalStateException(subject.name() + ": observer failed: " + failure, failure);
        }
        return new Outcome(
                observer.latency.count() + observer.unresolved,
                elapsed,
                observer.unresolved,
                observer.latency,
                maxLag,
                observer.maxPending,
                observer.firstRead,
                observer.firstReadDelay);
    }

    private static void join(Thread thread) {
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static void waitUntil(long due) {
        long remaining;
        while ((remaining = due - System.nanoTime()) > 0) {
            LockSupport.parkNanos(remaining);
        }
    }

    /** One write as the observer needs it: t0 is {@code nanoTime} just before A's write call. */
    private static final class Write {
        final String key;
        final long version;
        final long t0;
        // Observer thread only: whether B has been read for this write yet.
        boolean read;

        Write(String key, long version, long t0) {
            this.key = key;
            this.version = version;
            this.t0 = t0;
        }
    }

    /** The one poll loop: reads on B every write it has not yet seen, once per round. */
    private final class Observer implements Runnable {
        final ConcurrentLinkedQueue<Write> handoff = new ConcurrentLinkedQueue<>();
        final LatencyRecorder latency = new LatencyRecorder();
        volatile boolean writerDone;
        volatile @Nullable Throwable failure;
        // Written by this thread only and read by the writer after join(), which makes them visible.
        long unresolved;
        int maxPending;
        long firstRead;
        // How late the observer's first read of a write comes: latencies below it cannot be told apart.
        final LatencyRecorder firstReadDelay = new LatencyRecorder();

        @Override
        public void run() {
            try {
                poll();
            } catch (Throwable e) {
                failure = e;
            }
        }

        private void poll() {
            List<Write> unseen = new ArrayList<>();
            while (true) {
                boolean finished = writerDone;
                for (Write write; (write = handoff.poll()) != null; ) {
                    unseen.add(write);
                }
                if (unseen.isEmpty() && finished) {
                    return;
                }
                maxPending = Math.max(maxPending, unseen.size());
                int kept = 0;
                for (int i = 0; i < unseen.size(); i++) {
                    Write write = unseen.get(i);
                    long seen = subject.read(write.key);
                    long now = System.nanoTime();
                    boolean first = !write.read;
                    if (first) {
                        write.read = true;
                        firstReadDelay.record(now - write.t0);
                    }
                    if (seen >= write.version) {
                        latency.record(now - write.t0);
                        if (first) {
                            firstRead++;
                        }
                    } else if (now - write.t0 > giveUpNanos) {
                        unresolved++;
                    } else {
                        unseen.set(kept++, write);
                    }
                }
                unseen.subList(kept, unseen.size()).clear();
                LockSupport.parkNanos(POLL_NANOS);
            }
        }
    }
}

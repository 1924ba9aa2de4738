package dev.chorus.bench;

import dev.chorus.backplane.Backplane;
import dev.chorus.events.Delivery;
import dev.chorus.events.DropReason;
import dev.chorus.events.Event;
import dev.chorus.events.EventHub;
import dev.chorus.events.EventHubStats;
import dev.chorus.events.Identity;
import dev.chorus.events.Reload;
import dev.chorus.events.Sink;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Event hubs on several replicas of one transport, each with many sinks, events broadcast from the first
 * hub. Deliveries are counted by the hubs; every {@value #LATENCY_SAMPLE_EVERY}th sink times them against
 * the publish time stamped in the event, into its replica's recorder.
 */
final class HubFanOut implements AutoCloseable {

    /** Every n-th sink records latency: one histogram per sink would not fit in memory at 3,000 sinks. */
    static final int LATENCY_SAMPLE_EVERY = 10;

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(20);

    private final List<BenchReplica> replicas = new ArrayList<>();
    private final List<EventHub> hubs = new ArrayList<>();
    private final List<LatencyRecorder> latencies = new ArrayList<>();
    private final LongAdder reloads = new LongAdder();
    private final int sinks;

    HubFanOut(Function<String, BenchReplica> start, int replicaCount, int sinksPerReplica) {
        this(start, replicaCount, sinksPerReplica, true);
    }

    /**
     * As above; without {@code sinksOnPublisher} the first replica only publishes, so each other replica
     * carries the load one replica of a deployment would, on cores it shares with fewer others.
     */
    HubFanOut(Function<String, BenchReplica> start, int replicaCount, int sinksPerReplica, boolean sinksOnPublisher) {
        int firstWithSinks = sinksOnPublisher ? 0 : 1;
        this.sinks = (replicaCount - firstWithSinks) * sinksPerReplica;
        try {
            for (int r = 0; r < replicaCount; r++) {
                replicas.add(start.apply("events-" + r));
            }
            List<Backplane> backplanes =
                    replicas.stream().map(BenchReplica::backplane).toList();
            Readiness.awaitEachHearsTheOthers(backplanes, CONNECT_TIMEOUT);
            for (Backplane backplane : backplanes) {
                hubs.add(EventHub.builder(backplane).build());
            }
            awaitHubsKnowEachOther(replicaCount);
            for (int r = firstWithSinks; r < replicaCount; r++) {
                LatencyRecorder latency = new LatencyRecorder();
                latencies.add(latency);
                for (int i = 0; i < sinksPerReplica; i++) {
                    Identity identity = Identity.of("user-" + r + "-" + i, "group-" + i % 10);
                    hubs.get(r).register(identity, new CountingSink(i % LATENCY_SAMPLE_EVERY == 0 ? latency : null));
                }
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private void awaitHubsKnowEachOther(int count) {
        long deadline = System.nanoTime() + CONNECT_TIMEOUT.toNanos();
        while (!hubs.stream().allMatch(hub -> hub.stats().origins() == count)) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("Event hubs did not learn of each other within " + CONNECT_TIMEOUT);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
    }

    /** What one phase measured. */
    record Outcome(
            long events,
            long publishNanos,
            long elapsedNanos,
            long delivered,
            long dropped,
            long reloads,
            long lost,
            long maxLagNanos,
            LatencyRecorder latency) {

        double deliveriesPerSecond() {
            return elapsedNanos == 0 ? 0 : delivered * 1e9 / elapsedNanos;
        }

        double eventsPerSecond() {
            return publishNanos == 0 ? 0 : events * 1e9 / publishNanos;
        }
    }

    /**
     * Broadcasts {@code count} events from the first hub at {@code perSecond} on an absolute schedule, then
     * waits until every sink has had each event or had it dropped, or nothing moved for {@code stall}.
     */
    Outcome fixedRate(int count, int perSecond, Duration stall) {
        latencies.forEach(LatencyRecorder::reset);
        long deliveredBase = delivered();
        long droppedBase = dropped();
        long reloadsBase = reloads.sum();
        EventHub publisher = hubs.get(0);
        long interval = TimeUnit.SECONDS.toNanos(1) / perSecond;
        long first = System.nanoTime() + interval;
        long maxLag = 0;
        for (long i = 0; i < count; i++) {
            long due = first + i * interval;
            long remaining;
            while ((remaining = due - System.nanoTime()) > 0) {
                LockSupport.parkNanos(remaining);
            }
            long now = System.nanoTime();
            maxLag = Math.max(maxLag, now - due);
            publisher.broadcast(new Event("tick", Payloads.stamped(now)));
        }
        long published = System.nanoTime();
        long expected = (long) count * sinks;
        long last = -1;
        long lastMove = System.nanoTime();
        long finished = lastMove;
        while (true) {
            long done = delivered() - deliveredBase + dropped() - droppedBase;
            if (done >= expected) {
                break;
            }
            long now = System.nanoTime();
            if (done != last) {
                last = done;
                lastMove = now;
                finished = now;
            } else if (now - lastMove > stall.toNanos()) {
                break;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        long end = delivered() - deliveredBase + dropped() - droppedBase >= expected ? System.nanoTime() : finished;
        long got = delivered() - deliveredBase;
        long drops = dropped() - droppedBase;
        List<LatencyRecorder> snapshot = new ArrayList<>();
        for (LatencyRecorder latency : latencies) {
            synchronized (latency) {
                snapshot.add(LatencyRecorder.merged(List.of(latency)));
            }
        }
        return new Outcome(
                count,
                published - first,
                end - first,
                got,
                drops,
                reloads.sum() - reloadsBase,
                expected - got - drops,
                maxLag,
                LatencyRecorder.merged(snapshot));
    }

    /** Deliveries so far, from the hubs' own (batched) counters rather than one more per delivery here. */
    private long delivered() {
        long total = 0;
        for (EventHub hub : hubs) {
            total += hub.stats().delivered();
        }
        return total;
    }

    private long dropped() {
        long total = 0;
        for (EventHub hub : hubs) {
            EventHubStats stats = hub.stats();
            total += stats.dropped(DropReason.QUEUE_FULL) + stats.dropped(DropReason.SINK_DISCONNECTED);
        }
        return total;
    }

    /** The deepest any sink's queue has been, over every hub. */
    long queueHighWaterMark() {
        return hubs.stream()
                .mapToLong(h -> h.stats().queueHighWaterMark())
                .max()
                .orElse(0);
    }

    @Override
    public void close() {
        hubs.forEach(EventHub::close);
        replicas.forEach(BenchReplica::close);
    }

    private final class CountingSink implements Sink {
        private final @Nullable LatencyRecorder latency;

        CountingSink(@Nullable LatencyRecorder latency) {
            this.latency = latency;
        }

        @Override
        public void onEvent(Delivery delivery) {
            // Only sampling sinks read the clock: at 30 million deliveries a second, a clock read on each
            // (~26 ns here) is most of a core spent measuring rather than delivering.
            if (latency != null) {
                long now = System.nanoTime();
                long published = delivery.event().dataBuffer().getLong(0);
                synchronized (latency) {
                    latency.record(now - published);
                }
            }
        }

        @Override
        public void onReload(Reload reload) {
            reloads.increment();
        }
    }
}

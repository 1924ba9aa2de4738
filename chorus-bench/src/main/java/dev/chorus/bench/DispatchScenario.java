package dev.chorus.bench;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Message;
import dev.chorus.leases.Leases;
import dev.chorus.local.LocalCluster;
import dev.chorus.postgres.PostgresLeases;
import dev.chorus.redis.RedisLeases;
import dev.chorus.sessions.Acceptance;
import dev.chorus.sessions.Dispatch;
import dev.chorus.sessions.DispatchResult;
import dev.chorus.sessions.Session;
import dev.chorus.sessions.SessionHandler;
import dev.chorus.sessions.Sessions;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;

/**
 * Dispatch: a session on replica B, dispatches from replica A with one in flight, per transport, next to one
 * backplane hop (A publishes, B's subscriber receives) measured on the same replicas in the same run.
 */
final class DispatchScenario implements Scenario {

    static final String NAME = "dispatch";

    private static final double TARGET_P50_RATIO = 2.5;
    private static final double TARGET_P99_MICROS = 10_000;
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "session dispatch round trip vs one backplane hop";
    }

    @Override
    public String legend() {
        return """
                Two replicas A and B per transport, each with its own backplane and lease store (in-process: \
                `LocalCluster`; postgres: `PostgresBackplane` + `PostgresLeases` with default settings; redis: \
                `RedisBackplane` + `RedisLeases`). B claims one session whose handler accepts at once. \
                **dispatch**: A calls `Sessions.dispatch(session, 16 bytes, 10 s)` and waits for the outcome \
                before the next one: the owner lookup in the lease store, the request to B's topic, the handler, \
                the answer on A's reply topic. Latency is call → the outcome known: taken in a callback on the \
                thread that completes the dispatch, as the hop's is taken in the subscriber's callback, so neither \
                counts the benchmark thread waking up. The *caller resumed* row times the same dispatches until \
                the calling thread has the result, one thread wake-up more. **one hop**: A publishes a message \
                B subscribes to and waits for B's subscriber to receive it; latency is publish → receive (one \
                way, both replicas in one JVM). msgs/s: dispatches (or hops) per second, one in flight.

                **Targets**: dispatch p50 ≤ %.1f× one hop, dispatch p99 under %.0f ms.
                """.formatted(TARGET_P50_RATIO, TARGET_P99_MICROS / 1000);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        int warmup = config.pick(2_000, 200);
        int count = config.pick(5_000, 300);
        List<ResultRow> rows = new ArrayList<>();
        LocalCluster local = LocalCluster.create("bench");
        LocalCluster.LocalReplica la = local.join(ReplicaId.random("a"));
        LocalCluster.LocalReplica lb = local.join(ReplicaId.random("b"));
        try {
            rows.addAll(measure("inprocess", la.backplane(), la.leases(), lb.backplane(), lb.leases(), warmup, count));
        } finally {
            la.close();
            lb.close();
        }
        try (BenchPostgres postgres = BenchPostgres.open()) {
            String channel = postgres.uniqueChannel("dispatch");
            try (BenchPostgres.Replica a = postgres.replica("a", channel, b -> b);
                    BenchPostgres.Replica b = postgres.replica("b", channel, x -> x);
                    PostgresLeases leasesA = PostgresLeases.builder(
                                    a.database(), a.backplane().replica())
                            .cluster(channel)
                            .build();
                    PostgresLeases leasesB = PostgresLeases.builder(
                                    b.database(), b.backplane().replica())
                            .cluster(channel)
                            .build()) {
                rows.addAll(measure("postgres", a.backplane(), leasesA, b.backplane(), leasesB, warmup, count));
            }
        } catch (BenchPostgres.Unavailable e) {
            rows.add(e.row(NAME));
        }
        try {
            BenchRedis redis = BenchRedis.open();
            String prefix = redis.uniquePrefix("dispatch");
            try (BenchRedis.Replica a = redis.replica("a", prefix);
                    BenchRedis.Replica b = redis.replica("b", prefix);
                    RedisLeases leasesA = RedisLeases.builder(
                                    a.connector(), a.backplane().replica())
                            .build();
                    RedisLeases leasesB = RedisLeases.builder(
                                    b.connector(), b.backplane().replica())
                            .build()) {
                rows.addAll(measure("redis", a.backplane(), leasesA, b.backplane(), leasesB, warmup, count));
            }
        } catch (BenchRedis.Unavailable e) {
            rows.add(e.row(NAME));
        }
        return rows;
    }

    private static List<ResultRow> measure(
            String transport, Backplane a, Leases leasesA, Backplane b, Leases leasesB, int warmup, int count) {
        awaitHealthy(a);
        awaitHealthy(b);
        try (Sessions onA = Sessions.builder(a, leasesA).build();
                Sessions onB = Sessions.builder(b, leasesB).build()) {
            Session session = onB.claim("bench-session", new SessionHandler() {
                        @Override
                        public CompletionStage<Acceptance> onDispatch(Dispatch dispatch) {
                            return CompletableFuture.completedFuture(Acceptance.accept());
                        }

                        @Override
                        public void onEnded(Session s, Session.EndReason why, String reason) {}
                    })
                    .join();
            Run hop = hops(a, b, warmup, count);
            Run[] both = dispatches(onA, warmup, count);
            Run dispatch = both[0];
            session.close();
            double ratio = dispatch.latency.percentileMicros(50) / hop.latency.percentileMicros(50);
            double p99 = dispatch.latency.percentileMicros(99);
            String note = String.format(
                    Locale.ROOT,
                    "p50 %.2f× one hop (target ≤ %.1f×: %s); p99 %s %.0f ms",
                    ratio,
                    TARGET_P50_RATIO,
                    ratio <= TARGET_P50_RATIO ? "met" : "MISSED",
                    p99 < TARGET_P99_MICROS ? "under" : "NOT under",
                    TARGET_P99_MICROS / 1000);
            return List.of(
                    dispatch.row(transport + " dispatch", "one in flight", note),
                    both[1].row(transport + " dispatch", "caller resumed", ""),
                    hop.row(transport + " one hop", "one in flight", ""));
        }
    }

    private record Run(LatencyRecorder latency, long messages, double perSecond, long loss) {
        ResultRow row(String variant, String mode, String notes) {
            return new ResultRow(
                    NAME,
                    variant,
                    mode,
                    messages,
                    perSecond,
                    latency.percentileMicros(50),
                    latency.percentileMicros(99),
                    latency.maxMicros(),
                    loss,
                    notes);
        }
    }

    private static Run[] dispatches(Sessions from, int warmup, int count) {
        byte[] payload = new byte[16];
        LatencyRecorder latency = new LatencyRecorder();
        LatencyRecorder resumed = new LatencyRecorder();
        long failed = 0;
        long start = 0;
        for (int i = 0; i < warmup + count; i++) {
            if (i == warmup) {
                latency.reset();
                resumed.reset();
                start = System.nanoTime();
                failed = 0;
            }
            long[] known = new long[1];
            long t0 = System.nanoTime();
            DispatchResult result = from.dispatch("bench-session", payload, TIMEOUT)
                    .toCompletableFuture()
                    .whenComplete((r, e) -> known[0] = System.nanoTime())
                    .join();
            resumed.record(System.nanoTime() - t0);
            latency.record(known[0] - t0);
            if (!result.delivered()) {
                failed++;
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Run[] {
            new Run(latency, count, count / seconds, failed), new Run(resumed, count, count / seconds, failed)
        };
    }

    private static Run hops(Backplane a, Backplane b, int warmup, int count) {
        SynchronousQueue<Long> arrivals = new SynchronousQueue<>();
        String topic = "bench.hop";
        try (var subscription = b.subscribe(topic, envelope -> {
            long sent = ByteBuffer.wrap(envelope.payload()).getLong();
            try {
                arrivals.put(System.nanoTime() - sent);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        })) {
            LatencyRecorder latency = new LatencyRecorder();
            long lost = 0;
            long start = 0;
            for (int i = 0; i < warmup + count; i++) {
                if (i == warmup) {
                    latency.reset();
                    start = System.nanoTime();
                    lost = 0;
                }
                a.publish(Message.of(
                        topic,
                        ByteBuffer.allocate(16).putLong(System.nanoTime()).array()));
                Long took = arrivals.poll(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                if (took == null) {
                    lost++;
                } else {
                    latency.record(took);
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            return new Run(latency, count, count / seconds, lost);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static void awaitHealthy(Backplane backplane) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!backplane.health().isHealthy()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(backplane.backend() + " backplane not healthy: "
                        + backplane.health().reason());
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }
}

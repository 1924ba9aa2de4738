package dev.chorus.bench;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.events.EventHub;
import dev.chorus.local.LocalCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Event fan-out: three replicas with an {@link EventHub} and 1,000 sinks each, events broadcast from one of
 * them at fixed rates, on every transport, next to the raw transport's max rate measured in the same run.
 */
final class EventFanOutScenario implements Scenario {

    static final String NAME = "event-fanout";

    private static final int REPLICAS = 3;
    private static final int SINKS_PER_REPLICA = 1_000;
    private static final int[] RATES = {100, 1_000, 3_000, 10_000};
    private static final int TARGET_RATE = 10_000;
    private static final String ONE_REPLICA = ", one replica's share (2 replicas, 1,000 sinks on the receiving one)";
    private static final double TARGET_P99_MICROS = 20_000;
    private static final int RAW_RECEIVERS = 2;
    private static final int RAW_WINDOW = 16_384;
    private static final Duration STALL = Duration.ofSeconds(5);

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "event hub: 3 replicas × 1,000 sinks, broadcast from one replica";
    }

    @Override
    public String legend() {
        return """
                **chorus**: %d replicas of one transport in this JVM, each with an `EventHub` (default settings: \
                sink queues of %,d with DROP_OLDEST, history of %,d events) and %,d sinks, one virtual thread \
                each when it has work. One thread broadcasts %d-byte events (first 8 bytes: `System.nanoTime()` at \
                publish) from the first replica at a fixed rate on an absolute schedule, so every event reaches \
                %,d sinks: %,d on the publishing replica inside the call, %,d on the two others through the \
                backplane. `messages`: events published. `msgs/s`: sink deliveries per second (deliveries ÷ time \
                from the first publish to the last delivery). Latency: publish → sink callback, sampled on every \
                %dth sink (one histogram per replica). Loss: deliveries neither made nor reported as dropped \
                (must be 0); drops by the overflow policy and reload signals are in the notes. Each transport \
                warms up at 1,000 events/s first. *one replica's share*: a \
                publishing replica without sinks and one with 1,000, at the target rate: what one replica of a \
                deployment carries, on cores shared by two replicas instead of three.

                **raw**: the transport without Chorus, max rate into %d receivers, measured in the same run: \
                in-process, a `LinkedTransferQueue` per receiver; PostgreSQL, batched `pg_notify` into \
                vertx-pg-client listeners; Redis, pipelined Lettuce PUBLISH into Lettuce subscribers; JGroups, bare \
                JChannels (TCP on loopback) each message on its own. `msgs/s` \
                there is receiver deliveries per second, for comparison with one replica's share of the hub's.

                All replicas, sinks, the publisher and the servers share this machine's cores: a deployment gives \
                each replica its own. **Target**: p99 < %.0f ms at %,d events/s broadcast on Redis and JGroups.
                """.formatted(
                        REPLICAS,
                        EventHub.DEFAULT_QUEUE_CAPACITY,
                        EventHub.DEFAULT_HISTORY_SIZE,
                        SINKS_PER_REPLICA,
                        Payloads.SIZE,
                        REPLICAS * SINKS_PER_REPLICA,
                        SINKS_PER_REPLICA,
                        (REPLICAS - 1) * SINKS_PER_REPLICA,
                        HubFanOut.LATENCY_SAMPLE_EVERY,
                        RAW_RECEIVERS,
                        TARGET_P99_MICROS / 1000,
                        TARGET_RATE);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        List<ResultRow> rows = new ArrayList<>();
        LocalCluster local = LocalCluster.create("bench-events");
        rows.addAll(transport(
                config,
                "in-process",
                name -> new LocalReplica(local.join(ReplicaId.random(name)).backplane()),
                () -> new QueueFanOut(RAW_RECEIVERS)));
        try (BenchPostgres postgres = BenchPostgres.open()) {
            String channel = postgres.uniqueChannel("events");
            rows.addAll(transport(
                    config, "postgres", name -> postgres.replica(name, channel, b -> b), () -> rawNotify(postgres)));
        } catch (BenchPostgres.Unavailable e) {
            rows.add(e.row(NAME));
        }
        try {
            BenchRedis redis = BenchRedis.open();
            String prefix = redis.uniquePrefix("events");
            rows.addAll(transport(
                    config,
                    "redis",
                    name -> redis.replica(name, prefix),
                    () -> new RawRedisFanOut(redis, RAW_RECEIVERS, RawRedisFanOut.Publishing.PIPELINED)));
        } catch (BenchRedis.Unavailable e) {
            rows.add(e.row(NAME));
        }
        rows.addAll(transport(
                config,
                "jgroups",
                JGroupsBench.replicas(JGroupsBench.freePorts(REPLICAS)),
                JGroupsBench.replicas(JGroupsBench.freePorts(2)),
                () -> new RawJGroupsFanOut(RAW_RECEIVERS)));
        return rows;
    }

    private static FanOut rawNotify(BenchPostgres postgres) {
        try {
            return new RawNotifyFanOut(postgres, RAW_RECEIVERS);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("raw NOTIFY fan-out could not start: " + e.getMessage(), e);
        }
    }

    private static List<ResultRow> transport(
            BenchConfig config, String transport, Function<String, BenchReplica> start, Supplier<FanOut> raw) {
        return transport(config, transport, start, start, raw);
    }

    /** {@code startShare} starts the replicas of the one-replica-share run (JGroups needs other ports). */
    private static List<ResultRow> transport(
            BenchConfig config,
            String transport,
            Function<String, BenchReplica> start,
            Function<String, BenchReplica> startShare,
            Supplier<FanOut> raw) {
        List<ResultRow> rows = new ArrayList<>();
        int seconds = config.pick(4, 1);
        try (HubFanOut fanOut = new HubFanOut(start, REPLICAS, SINKS_PER_REPLICA)) {
            fanOut.fixedRate(config.pick(2_000, 300), 1_000, STALL);
            for (int rate : RATES) {
                // The highest rate runs shorter: at 30M deliveries/s asked, a longer run only queues more.
                int count = rate * (rate >= TARGET_RATE ? Math.max(1, seconds / 2) : seconds);
                HubFanOut.Outcome outcome = fanOut.fixedRate(count, rate, STALL);
                rows.add(row(transport, rate, outcome, fanOut.queueHighWaterMark()));
            }
        }
        // What one replica of a deployment carries at the target rate (1,000 sinks, every event from
        // elsewhere), with the machine shared by two replicas instead of three.
        try (HubFanOut fanOut = new HubFanOut(startShare, 2, SINKS_PER_REPLICA, false)) {
            fanOut.fixedRate(config.pick(2_000, 300), 1_000, STALL);
            int count = TARGET_RATE * Math.max(1, seconds / 2);
            HubFanOut.Outcome outcome = fanOut.fixedRate(count, TARGET_RATE, STALL);
            rows.add(row(transport, TARGET_RATE, outcome, fanOut.queueHighWaterMark(), ONE_REPLICA));
        }
        try (FanOut fanOut = raw.get()) {
            FanOutDriver driver = new FanOutDriver(fanOut, STALL);
            driver.maxRate(config.pick(20_000, 2_000), RAW_WINDOW);
            FanOutDriver.Outcome outcome = driver.maxRate(config.pick(100_000, 5_000), RAW_WINDOW);
            rows.add(new ResultRow(
                    NAME,
                    "raw " + transport + ": " + fanOut.variant(),
                    "max rate, " + RAW_RECEIVERS + " receivers",
                    outcome.messages(),
                    outcome.msgsPerSecond() * RAW_RECEIVERS,
                    outcome.latency().percentileMicros(50),
                    outcome.latency().percentileMicros(99),
                    outcome.latency().maxMicros(),
                    outcome.loss(),
                    String.format(Locale.ROOT, "%,.0f msgs/s per receiver", outcome.msgsPerSecond())));
        } catch (RuntimeException e) {
            rows.add(new ResultRow(
                    NAME,
                    "raw " + transport,
                    "max rate",
                    0,
                    0,
                    Double.NaN,
                    Double.NaN,
                    Double.NaN,
                    0,
                    "failed: " + e.getMessage()));
        }
        return rows;
    }

    private static ResultRow row(String transport, int rate, HubFanOut.Outcome outcome, long highWaterMark) {
        return row(transport, rate, outcome, highWaterMark, "");
    }

    private static ResultRow row(
            String transport, int rate, HubFanOut.Outcome outcome, long highWaterMark, String modeSuffix) {
        List<String> notes = new ArrayList<>();
        notes.add(String.format(
                Locale.ROOT,
                "published %,.0f events/s (max send lag %,.1f ms)",
                outcome.eventsPerSecond(),
                outcome.maxLagNanos() / 1e6));
        if (outcome.dropped() > 0 || outcome.reloads() > 0) {
            notes.add(String.format(
                    Locale.ROOT,
                    "%,d deliveries dropped by full sink queues, %,d reload signals",
                    outcome.dropped(),
                    outcome.reloads()));
        }
        notes.add("queue high-water mark " + highWaterMark);
        if ((transport.equals("redis") || transport.equals("jgroups")) && rate == TARGET_RATE) {
            double p99 = outcome.latency().percentileMicros(99);
            boolean met = p99 < TARGET_P99_MICROS && outcome.dropped() == 0 && outcome.lost() == 0;
            notes.add(String.format(
                    Locale.ROOT,
                    "target p99 < %.0f ms with nothing dropped: %s",
                    TARGET_P99_MICROS / 1000,
                    met ? "met" : "MISSED"));
        }
        return new ResultRow(
                NAME,
                "chorus " + transport,
                String.format(Locale.ROOT, "broadcast %,d events/s", rate) + modeSuffix,
                outcome.events(),
                outcome.deliveriesPerSecond(),
                outcome.latency().percentileMicros(50),
                outcome.latency().percentileMicros(99),
                outcome.latency().maxMicros(),
                outcome.lost(),
                String.join("; ", notes));
    }

    /** An in-process replica: only a backplane to close. */
    private record LocalReplica(Backplane backplane) implements BenchReplica {
        @Override
        public void close() {
            backplane.close();
        }
    }
}

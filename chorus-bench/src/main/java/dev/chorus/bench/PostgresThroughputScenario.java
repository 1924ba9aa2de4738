package dev.chorus.bench;

import dev.chorus.internal.AbstractBackplane;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * PostgreSQL publish → deliver: one publishing and two receiving Chorus replicas against raw batched
 * {@code pg_notify} into two bare vertx-pg-client listeners, at max rate and at a fixed 5k/s.
 */
final class PostgresThroughputScenario implements Scenario {

    static final String NAME = "postgres-throughput";

    private static final int RECEIVERS = 2;
    private static final int FIXED_RATE_PER_SECOND = 5_000;
    /**
     * A quarter of a Chorus subscription's queue: everything in flight (publish queue, server, listener,
     * subscription queue) is at most this, so the subscription queue never overflows and max rate measures
     * delivery, not the overflow policy. The baseline gets the same window.
     */
    private static final int WINDOW = AbstractBackplane.DEFAULT_SUBSCRIPTION_CAPACITY / 4;

    private static final Duration STALL_TIMEOUT = Duration.ofSeconds(10);
    private static final double TARGET_RATE_RATIO = 0.3;
    private static final double TARGET_FIXED_P99_MICROS = 5_000;

    /**
     * The modes, their names in the results and how many messages each sends. Warmups are long because on a
     * small machine the JIT is still compiling the receive path after tens of thousands of messages (measured
     * on 2 cores: raw max rate rose from 130k/s to 190k/s between a first and a second 300k run).
     */
    private enum Mode {
        MAX_RATE("max rate", 300_000, 30_000, 100_000, 5_000),
        FIXED_RATE(
                "fixed rate 5k/s",
                10 * FIXED_RATE_PER_SECOND,
                2 * FIXED_RATE_PER_SECOND,
                2 * FIXED_RATE_PER_SECOND,
                1_500);

        final String label;
        final int full;
        final int quick;
        final int warmupFull;
        final int warmupQuick;

        Mode(String label, int full, int quick, int warmupFull, int warmupQuick) {
            this.label = label;
            this.full = full;
            this.quick = quick;
            this.warmupFull = warmupFull;
            this.warmupQuick = warmupQuick;
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "postgres: publish → deliver";
    }

    @Override
    public String legend() {
        return """
                One publishing thread, %d receivers, %d-byte payloads whose first 8 bytes hold `System.nanoTime()` \
                at publish, all in this JVM against one PostgreSQL server. **chorus**: %d `PostgresBackplane` \
                replicas (1 publishing, %d receiving, each with its own `PostgresDatabase`, default settings) on a \
                channel of their own; the receivers subscribe to the topic. The publisher batches envelopes into \
                notifications (base64, up to 7,900 chars each) and sends a batch per statement; each listener hands \
                payloads to a receive thread, which decodes them and queues them for the subscription's delivery \
                thread. The publishing replica listens too (canaries, other replicas), so the server delivers \
                every notification to 3 listeners. **raw batched pg_notify → vertx LISTEN**: one pgjdbc \
                connection sends up to %d distinct notifications per auto-commit statement \
                (`SELECT pg_notify(ch, p) FROM unnest(?::text[]) p`, payload = the 64 bytes in base64 + `.` + a \
                counter) from a sender thread that drains a queue; %d vertx-pg-client listeners \
                (`PgConnection.notificationHandler`), each with its own single-event-loop `Vertx` like Chorus's \
                listener, decode and time the payload on the event loop.

                Latency: receive `nanoTime` − publish `nanoTime`, one sample per receiver delivery. msgs/s: \
                messages ÷ time from the first publish until every receiver had the last one. Loss: expected \
                deliveries − received (must be 0). *max rate* publishes as fast as it can, never more than %,d \
                messages ahead of the slowest receiver (a quarter of a subscription queue, so it never \
                overflows); its latency is mostly time spent queued inside that window. *fixed rate* parks until \
                each send is due. Each mode and variant runs on fresh replicas and a fresh channel after its own \
                warmup.

                **Targets**: chorus max rate ≥ %.1f× the raw batched rate; chorus p99 < %,.0f µs at 5k/s.
                """.formatted(
                        RECEIVERS,
                        Payloads.SIZE,
                        RECEIVERS + 1,
                        RECEIVERS,
                        RawNotifyFanOut.BATCH,
                        RECEIVERS,
                        WINDOW,
                        TARGET_RATE_RATIO,
                        TARGET_FIXED_P99_MICROS);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        try (BenchPostgres postgres = BenchPostgres.open()) {
            List<ResultRow> rows = new ArrayList<>();
            for (Mode mode : Mode.values()) {
                int warmup = config.pick(mode.warmupFull, mode.warmupQuick);
                int count = config.pick(mode.full, mode.quick);
                FanOutDriver.Outcome chorus;
                String channel = postgres.uniqueChannel("chorus");
                try (TransportChorusFanOut fanOut = new TransportChorusFanOut(
                        "bench.postgres", name -> postgres.replica(name, channel, b -> b), RECEIVERS)) {
                    FanOutDriver driver = new FanOutDriver(fanOut, STALL_TIMEOUT);
                    drive(driver, mode, warmup);
                    chorus = drive(driver, mode, count);
                }
                FanOutDriver.Outcome raw;
                String batching;
                try (RawNotifyFanOut fanOut = new RawNotifyFanOut(postgres, RECEIVERS)) {
                    FanOutDriver driver = new FanOutDriver(fanOut, STALL_TIMEOUT);
                    drive(driver, mode, warmup);
                    long transactions = fanOut.transactions();
                    long notifications = fanOut.notifications();
                    raw = drive(driver, mode, count);
                    batching = String.format(
                            Locale.ROOT,
                            "mean %.1f notifications per transaction",
                            (fanOut.notifications() - notifications)
                                    / (double) Math.max(1, fanOut.transactions() - transactions));
                }
                rows.add(chorus.toRow(NAME, "chorus", mode.label, List.of(target(mode, chorus, raw))));
                rows.add(raw.toRow(NAME, RawNotifyFanOut.VARIANT, mode.label, List.of(batching)));
            }
            return rows;
        } catch (BenchPostgres.Unavailable e) {
            return List.of(e.row(NAME));
        } catch (SQLException e) {
            throw new IllegalStateException("PostgreSQL failed during " + NAME + ": " + e.getMessage(), e);
        }
    }

    private static FanOutDriver.Outcome drive(FanOutDriver driver, Mode mode, int count) {
        return switch (mode) {
            case MAX_RATE -> driver.maxRate(count, WINDOW);
            case FIXED_RATE -> driver.fixedRate(count, FIXED_RATE_PER_SECOND);
        };
    }

    private static String target(Mode mode, FanOutDriver.Outcome chorus, FanOutDriver.Outcome raw) {
        return switch (mode) {
            case MAX_RATE -> {
                double ratio = chorus.msgsPerSecond() / raw.msgsPerSecond();
                yield String.format(
                        Locale.ROOT,
                        "target ≥ %.1f× raw rate: %.2f× (%s)",
                        TARGET_RATE_RATIO,
                        ratio,
                        ratio >= TARGET_RATE_RATIO ? "met" : "MISSED");
            }
            case FIXED_RATE -> {
                double p99 = chorus.latency().percentileMicros(99);
                yield String.format(
                        Locale.ROOT,
                        "target p99 < %,.0f µs: %,.0f µs (%s)",
                        TARGET_FIXED_P99_MICROS,
                        p99,
                        p99 < TARGET_FIXED_P99_MICROS ? "met" : "MISSED");
            }
        };
    }
}

package dev.chorus.bench;

import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * PostgreSQL ping-pong: the round trip between two Chorus replicas with one envelope in flight, against a
 * bare NOTIFY round trip between two pgjdbc connections and two vertx-pg-client listeners.
 */
final class PostgresPingPongScenario implements Scenario {

    static final String NAME = "postgres-ping-pong";

    private static final Duration STALL_TIMEOUT = Duration.ofSeconds(10);
    private static final double TARGET_P50_RATIO = 1.5;
    private static final String ROUND_TRIP = "round trip";
    private static final String ONE_WAY = "one way (round trip ÷ 2)";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "postgres: ping-pong latency";
    }

    @Override
    public String legend() {
        return """
                One envelope in flight: the next ping leaves only when the previous pong has arrived. %d-byte \
                payloads whose first 8 bytes hold `System.nanoTime()` at the ping. **chorus**: two \
                `PostgresBackplane` replicas A and B (each with its own `PostgresDatabase`, default settings) on \
                one channel; A publishes on `%s`, B's subscriber publishes the payload back on `%s`, A's \
                subscriber takes the time. Each hop is publish → publisher thread → NOTIFY → listener → receive \
                thread → delivery thread, and both listeners hear every notification (each drops its own echo). \
                **raw pg_notify ↔ vertx LISTEN**: two pgjdbc auto-commit connections and two vertx-pg-client \
                listeners (one single-event-loop `Vertx` each); A's connection runs `SELECT pg_notify(ping, \
                base64)` on the driver thread, listener B hears `ping` and answers with `SELECT pg_notify(pong, \
                same payload)` on B's connection from its event loop, listener A hears `pong` and takes the time \
                on its event loop.

                Latency: *round trip* is pong received − ping sent; *one way* is that halved (the same samples), \
                two messages per round trip. msgs/s: round trips (one way: messages) per second. Loss: pings \
                without a pong (must be 0). Each variant runs after its own warmup, chorus first.

                **Target**: chorus round-trip p50 ≤ %.1f× raw.
                """.formatted(Payloads.SIZE, PostgresChorusPingPong.PING, PostgresChorusPingPong.PONG, TARGET_P50_RATIO);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        int warmup = config.pick(3_000, 300);
        int count = config.pick(5_000, 500);
        try (BenchPostgres postgres = BenchPostgres.open()) {
            FanOutDriver.Outcome chorus;
            try (PostgresChorusPingPong pingPong = new PostgresChorusPingPong(postgres)) {
                chorus = measure(pingPong, warmup, count);
            }
            FanOutDriver.Outcome raw;
            try (RawNotifyPingPong pingPong = new RawNotifyPingPong(postgres)) {
                raw = measure(pingPong, warmup, count);
            }
            double ratio = chorus.latency().percentileMicros(50) / raw.latency().percentileMicros(50);
            String target = String.format(
                    Locale.ROOT,
                    "p50 %.2f× raw (target ≤ %.1f×: %s)",
                    ratio,
                    TARGET_P50_RATIO,
                    ratio <= TARGET_P50_RATIO ? "met" : "MISSED");
            return List.of(
                    chorus.toRow(NAME, "chorus", ROUND_TRIP, List.of(target)),
                    raw.toRow(NAME, RawNotifyPingPong.VARIANT, ROUND_TRIP, List.of()),
                    oneWay(chorus, "chorus"),
                    oneWay(raw, RawNotifyPingPong.VARIANT));
        } catch (BenchPostgres.Unavailable e) {
            return List.of(e.row(NAME));
        } catch (SQLException e) {
            throw new IllegalStateException("PostgreSQL failed during " + NAME + ": " + e.getMessage(), e);
        }
    }

    private static FanOutDriver.Outcome measure(FanOut pingPong, int warmup, int count) {
        FanOutDriver driver = new FanOutDriver(pingPong, STALL_TIMEOUT);
        driver.oneInFlight(warmup);
        return driver.oneInFlight(count);
    }

    private static ResultRow oneWay(FanOutDriver.Outcome roundTrips, String variant) {
        LatencyRecorder latency = roundTrips.latency();
        return new ResultRow(
                NAME,
                variant,
                ONE_WAY,
                2 * roundTrips.messages(),
                2 * roundTrips.msgsPerSecond(),
                latency.percentileMicros(50) / 2,
                latency.percentileMicros(99) / 2,
                latency.maxMicros() / 2,
                roundTrips.loss(),
                "");
    }
}

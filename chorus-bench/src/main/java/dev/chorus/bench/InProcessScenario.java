package dev.chorus.bench;

import dev.chorus.internal.AbstractBackplane;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * In-process publish → deliver: one publishing replica and two receiving replicas of a {@code LocalCluster},
 * against a hand-written queue fan-out, in three modes (one in flight, max rate, fixed rate), each after a
 * warmup.
 */
final class InProcessScenario implements Scenario {

    static final String NAME = "inprocess";

    private static final int RECEIVERS = 2;
    private static final int FIXED_RATE_PER_SECOND = 50_000;
    /**
     * A quarter of a Chorus subscription's queue, so max rate measures delivery, not the overflow policy.
     * The baseline gets the same window so both are driven alike.
     */
    private static final int WINDOW = AbstractBackplane.DEFAULT_SUBSCRIPTION_CAPACITY / 4;

    private static final Duration STALL_TIMEOUT = Duration.ofSeconds(10);

    /** The modes, their names in the results and how many messages each sends. */
    private enum Mode {
        ONE_IN_FLIGHT("1 in flight", 20_000, 2_000, 20_000, 2_000),
        MAX_RATE("max rate", 1_000_000, 50_000, 200_000, 10_000),
        FIXED_RATE("fixed rate 50k/s", 200_000, 20_000, 25_000, 2_500);

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
        return "in-process publish → deliver";
    }

    @Override
    public String legend() {
        return """
                One publishing thread, %d receivers, %d-byte payloads whose first 8 bytes hold `System.nanoTime()` at \
                publish. **chorus**: a `LocalCluster` with one publishing and %d receiving replicas, each receiver \
                subscribed to the topic (unsigned envelopes: stamped and encoded once per publish — the size check \
                every transport makes — then handed to each receiving replica's subscription queue and delivered \
                on its virtual thread). **raw baseline**: the same `byte[]` offered to one \
                `LinkedTransferQueue` per receiver, drained by a virtual thread each.

                Latency: receive `nanoTime` − publish `nanoTime`, one sample per receiver delivery. msgs/s: \
                messages ÷ time from the first publish until every receiver had the last one. Loss: expected \
                deliveries − received (must be 0). Modes: *1 in flight* waits for both receivers before the next \
                publish; *max rate* publishes as fast as it can; *fixed rate* parks until each send is due on an absolute schedule, sending overdue messages back to back. \
                Each mode runs after its own warmup; chorus and baseline alternate per mode.
                """.formatted(RECEIVERS, Payloads.SIZE, RECEIVERS);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        List<ResultRow> rows = new ArrayList<>();
        List<IntFunction<FanOut>> variants = List.of(ChorusFanOut::new, QueueFanOut::new);
        for (Mode mode : Mode.values()) {
            for (IntFunction<FanOut> variant : variants) {
                try (FanOut fanOut = variant.apply(RECEIVERS)) {
                    FanOutDriver driver = new FanOutDriver(fanOut, STALL_TIMEOUT);
                    drive(driver, mode, config.pick(mode.warmupFull, mode.warmupQuick));
                    FanOutDriver.Outcome outcome = drive(driver, mode, config.pick(mode.full, mode.quick));
                    rows.add(toRow(fanOut.variant(), mode, outcome));
                }
            }
        }
        return rows;
    }

    private static FanOutDriver.Outcome drive(FanOutDriver driver, Mode mode, int count) {
        return switch (mode) {
            case ONE_IN_FLIGHT -> driver.oneInFlight(count);
            case MAX_RATE -> driver.maxRate(count, WINDOW);
            case FIXED_RATE -> driver.fixedRate(count, FIXED_RATE_PER_SECOND);
        };
    }

    private static ResultRow toRow(String variant, Mode mode, FanOutDriver.Outcome outcome) {
        LatencyRecorder latency = outcome.latency();
        return new ResultRow(
                NAME,
                variant,
                mode.label,
                outcome.messages(),
                outcome.msgsPerSecond(),
                latency.percentileMicros(50),
                latency.percentileMicros(99),
                latency.maxMicros(),
                outcome.loss(),
                String.join("; ", outcome.notes()));
    }
}

package dev.chorus.bench;

import dev.chorus.internal.AbstractBackplane;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * JGroups publish → deliver: one publishing and two receiving Chorus replicas on a loopback TCP mesh against
 * bare JChannels with the same stack, one message at a time and at max rate.
 */
final class JGroupsThroughputScenario implements Scenario {

    static final String NAME = "jgroups-throughput";

    private static final int RECEIVERS = 2;
    /** As in redis-throughput: a quarter of a subscription queue, so max rate never measures overflow. */
    private static final int WINDOW = AbstractBackplane.DEFAULT_SUBSCRIPTION_CAPACITY / 4;

    private static final Duration STALL_TIMEOUT = Duration.ofSeconds(30);
    private static final double TARGET_RATIO = 0.8;
    /** A rate both sides should sustain, sent one message at a time: where JGroups' own stalls showed. */
    private static final int FIXED_RATE = 5_000;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "jgroups: publish → deliver";
    }

    @Override
    public String legend() {
        return """
                One publishing thread, %d receivers, %d-byte payloads whose first 8 bytes hold `System.nanoTime()` \
                at publish, all in this JVM on loopback. **chorus**: %d `JGroupsBackplane` replicas (TCP \
                discovery, no secret, default settings) on a cluster of their own; `publish` enqueues and the \
                sender thread hands envelopes to JGroups; each receiver's JGroups thread decodes and queues them \
                for the subscription's delivery thread. **raw JGroups send/receive**: three bare JChannels with \
                the same stack minus the Chorus guard, multicasting the payload as it is, timed in \
                `Receiver.receive` on JGroups' thread.

                Latency: receive `nanoTime` − publish `nanoTime`, one sample per receiver delivery. msgs/s: \
                messages ÷ time from the first publish until every receiver had the last one. Loss must be 0. \
                *one at a time*: each publish waits until both receivers have the previous message. *max rate*: \
                as fast as the publisher can, never more than %,d messages ahead of the slowest receiver. *fixed*: \
                that many messages a second on a schedule, each sent on its own.

                **Target**: chorus max rate ≥ %.1f× raw, with zero loss.
                """.formatted(RECEIVERS, Payloads.SIZE, RECEIVERS + 1, WINDOW, TARGET_RATIO);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        Supplier<FanOut> chorus = () -> new TransportChorusFanOut(
                "bench.jgroups", JGroupsBench.replicas(JGroupsBench.freePorts(RECEIVERS + 1)), RECEIVERS);
        Supplier<FanOut> raw = () -> new RawJGroupsFanOut(RECEIVERS);

        int warmup = config.pick(10_000, 500);
        int count = config.pick(20_000, 1_000);
        FanOutDriver.Outcome chorusOne = measure(chorus, d -> d.oneInFlight(warmup), d -> d.oneInFlight(count));
        FanOutDriver.Outcome rawOne = measure(raw, d -> d.oneInFlight(warmup), d -> d.oneInFlight(count));

        int warmupMax = config.pick(100_000, 3_000);
        int countMax = config.pick(300_000, 10_000);
        FanOutDriver.Outcome rawMax = measure(raw, d -> d.maxRate(warmupMax, WINDOW), d -> d.maxRate(countMax, WINDOW));
        FanOutDriver.Outcome chorusMax =
                measure(chorus, d -> d.maxRate(warmupMax, WINDOW), d -> d.maxRate(countMax, WINDOW));

        int fixedCount = config.pick(FIXED_RATE * 10, FIXED_RATE);
        FanOutDriver.Outcome rawFixed =
                measure(raw, d -> d.fixedRate(fixedCount / 5, FIXED_RATE), d -> d.fixedRate(fixedCount, FIXED_RATE));
        FanOutDriver.Outcome chorusFixed =
                measure(chorus, d -> d.fixedRate(fixedCount / 5, FIXED_RATE), d -> d.fixedRate(fixedCount, FIXED_RATE));

        double ratio = chorusMax.msgsPerSecond() / Math.max(1, rawMax.msgsPerSecond());
        String target = String.format(
                Locale.ROOT,
                "target ≥ %.1f× raw: %.2f× (%s), loss 0: %s",
                TARGET_RATIO,
                ratio,
                ratio >= TARGET_RATIO ? "met" : "MISSED",
                chorusMax.loss() == 0 ? "met" : "MISSED");
        String oneRatio = String.format(
                Locale.ROOT,
                "p50 %.2f× raw, p99 %.2f× raw (no target)",
                chorusOne.latency().percentileMicros(50) / rawOne.latency().percentileMicros(50),
                chorusOne.latency().percentileMicros(99) / rawOne.latency().percentileMicros(99));
        String fixedMode = String.format(Locale.ROOT, "fixed %,d/s", FIXED_RATE);
        return List.of(
                chorusOne.toRow(NAME, "chorus", "one at a time", List.of(oneRatio)),
                rawOne.toRow(NAME, "raw JGroups send/receive", "one at a time", List.of()),
                chorusMax.toRow(NAME, "chorus", "max rate", List.of(target)),
                rawMax.toRow(NAME, "raw JGroups send/receive", "max rate", List.of()),
                chorusFixed.toRow(NAME, "chorus", fixedMode, List.of()),
                rawFixed.toRow(NAME, "raw JGroups send/receive", fixedMode, List.of()));
    }

    private static FanOutDriver.Outcome measure(
            Supplier<FanOut> fanOuts,
            Function<FanOutDriver, FanOutDriver.Outcome> warm,
            Function<FanOutDriver, FanOutDriver.Outcome> measured) {
        try (FanOut fanOut = fanOuts.get()) {
            FanOutDriver driver = new FanOutDriver(fanOut, STALL_TIMEOUT);
            warm.apply(driver);
            return measured.apply(driver);
        }
    }
}

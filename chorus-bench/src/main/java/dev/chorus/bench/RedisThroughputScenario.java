package dev.chorus.bench;

import dev.chorus.internal.AbstractBackplane;
import dev.chorus.redis.RedisBackplane;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Redis publish → deliver: one publishing and two receiving Chorus replicas against bare Lettuce pub/sub, one
 * message at a time, at max rate and paced at half the raw max rate measured in the same run.
 */
final class RedisThroughputScenario implements Scenario {

    static final String NAME = "redis-throughput";

    static final String ONE_AT_A_TIME = "one at a time";
    static final String MAX_RATE = "max rate";
    static final String HALF_RAW_RATE = "half raw rate";

    private static final int RECEIVERS = 2;
    /**
     * A quarter of a Chorus subscription's queue: everything in flight (publish queue, PUBLISH commands,
     * Redis's output buffers, subscription queue) is at most this, so the subscription queue never overflows
     * and max rate measures delivery, not the overflow policy. The raw baselines get the same window, which
     * also keeps a raw subscriber's output buffer (about 100 bytes per message) far below Redis's 32 MB
     * pubsub cut-off.
     */
    private static final int WINDOW = AbstractBackplane.DEFAULT_SUBSCRIPTION_CAPACITY / 4;

    private static final Duration STALL_TIMEOUT = Duration.ofSeconds(5);
    private static final double TARGET_SYNC_RATIO = 0.8;
    private static final double TARGET_PIPELINED_RATIO = 0.5;
    private static final double TARGET_P50_RATIO = 1.5;
    private static final double TARGET_P99_RATIO = 2.0;

    /** One variant's measured phase and what the scenario noted about it. */
    private record Measured(FanOutDriver.Outcome outcome, List<String> notes) {
        ResultRow row(String variant, String mode, List<String> more) {
            List<String> all = new ArrayList<>(more);
            all.addAll(notes);
            return outcome.toRow(NAME, variant, mode, all);
        }

        double p(double percentile) {
            return outcome.latency().percentileMicros(percentile);
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "redis: publish → deliver";
    }

    @Override
    public String legend() {
        return """
                One publishing thread, %d receivers, %d-byte payloads whose first 8 bytes hold `System.nanoTime()` \
                at publish, all in this JVM against one Redis server (RESP2 everywhere). **chorus**: %d \
                `RedisBackplane` replicas (1 publishing, %d receiving, each with its own `RedisConnector`, default \
                settings) under a prefix of their own; the receivers subscribe to the topic. `publish` enqueues; \
                the publisher thread packs what is queued into one frame per PUBLISH (≤ 64 KiB, ≤ %d PUBLISH \
                unanswered); each receiving replica's Lettuce event loop unpacks and decodes the frame and queues \
                the envelopes for the subscription's delivery thread. The publishing replica subscribes too \
                (canaries), so Redis sends every frame to 3 subscribers. **raw Lettuce sync PUBLISH**: one \
                connection, `sync().publish(channel, bytes)` one after the other, each waiting for its reply. \
                **raw Lettuce async PUBLISH (pipelined)**: the same connection's `async().publish` with autoflush, \
                not waiting for replies. Both raw variants feed 2 subscriber connections (each on its own \
                `RedisClient`) whose `RedisPubSubListener` times the payload on the Lettuce event loop; clients do \
                not reconnect, so a subscriber Redis cuts off (32 MB pubsub output-buffer limit) shows as loss and \
                as `cut off` in the notes, never silently.

                Latency: receive `nanoTime` − publish `nanoTime`, one sample per receiver delivery. msgs/s: \
                messages ÷ time from the first publish until every receiver had the last one. Loss: expected \
                deliveries − received (must be 0). *%s*: each publish waits until both receivers have the \
                previous message. *%s*: as fast as the publisher can, never more than %,d messages ahead of the \
                slowest receiver (a quarter of a subscription queue, so it never overflows); latency there is \
                mostly time queued inside that window. *%s*: half the raw sync max rate of the same run, each send \
                parked until due on an absolute schedule. Each mode and variant runs on fresh connections and a \
                fresh channel after its own warmup. `envelopes per PUBLISH`: chorus messages ÷ PUBLISH calls on the \
                whole server during the phase (`INFO commandstats`; other clients of the server lower it).

                **Targets**: chorus max rate ≥ %.1f× raw sync and ≥ %.1f× raw pipelined, with zero loss; at half \
                the raw rate chorus p50 ≤ %.1f× raw and p99 ≤ %.1f× raw.
                """.formatted(
                        RECEIVERS,
                        Payloads.SIZE,
                        RECEIVERS + 1,
                        RECEIVERS,
                        RedisBackplane.DEFAULT_MAX_IN_FLIGHT,
                        ONE_AT_A_TIME,
                        MAX_RATE,
                        WINDOW,
                        HALF_RAW_RATE,
                        TARGET_SYNC_RATIO,
                        TARGET_PIPELINED_RATIO,
                        TARGET_P50_RATIO,
                        TARGET_P99_RATIO);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        BenchRedis redis;
        try {
            redis = BenchRedis.open();
        } catch (BenchRedis.Unavailable e) {
            return List.of(e.row(NAME));
        }
        Supplier<FanOut> chorus = () -> {
            String prefix = redis.uniquePrefix("chorus");
            return new TransportChorusFanOut("bench.redis", name -> redis.replica(name, prefix), RECEIVERS);
        };
        Supplier<FanOut> sync = () -> new RawRedisFanOut(redis, RECEIVERS, RawRedisFanOut.Publishing.SYNC);
        Supplier<FanOut> pipelined = () -> new RawRedisFanOut(redis, RECEIVERS, RawRedisFanOut.Publishing.PIPELINED);
        String syncVariant = RawRedisFanOut.Publishing.SYNC.variant;
        String pipelinedVariant = RawRedisFanOut.Publishing.PIPELINED.variant;
        List<ResultRow> rows = new ArrayList<>();

        int warmup = config.pick(10_000, 500);
        int count = config.pick(20_000, 1_000);
        Measured chorusOne = measure(redis, chorus, d -> d.oneInFlight(warmup), d -> d.oneInFlight(count));
        Measured rawOne = measure(redis, sync, d -> d.oneInFlight(warmup), d -> d.oneInFlight(count));
        rows.add(chorusOne.row("chorus", ONE_AT_A_TIME, List.of(ratios(chorusOne, rawOne, "no target"))));
        rows.add(rawOne.row(syncVariant, ONE_AT_A_TIME, List.of()));

        int warmupMax = config.pick(100_000, 3_000);
        int countMax = config.pick(300_000, 10_000);
        Measured rawSyncMax = measure(redis, sync, d -> d.maxRate(warmupMax, WINDOW), d -> d.maxRate(countMax, WINDOW));
        Measured rawPipelinedMax =
                measure(redis, pipelined, d -> d.maxRate(warmupMax, WINDOW), d -> d.maxRate(countMax, WINDOW));
        Measured chorusMax =
                measure(redis, chorus, d -> d.maxRate(warmupMax, WINDOW), d -> d.maxRate(countMax, WINDOW));
        rows.add(chorusMax.row("chorus", MAX_RATE, List.of(maxRateTarget(chorusMax, rawSyncMax, rawPipelinedMax))));
        rows.add(rawSyncMax.row(syncVariant, MAX_RATE, List.of()));
        rows.add(rawPipelinedMax.row(pipelinedVariant, MAX_RATE, List.of()));

        int perSecond = (int) Math.max(1_000, rawSyncMax.outcome().msgsPerSecond() / 2);
        int warmupPaced = perSecond * config.pick(2_000, 500) / 1_000;
        int countPaced = perSecond * config.pick(10_000, 2_000) / 1_000;
        Measured chorusPaced = measure(
                redis, chorus, d -> d.fixedRate(warmupPaced, perSecond), d -> d.fixedRate(countPaced, perSecond));
        Measured rawPaced =
                measure(redis, sync, d -> d.fixedRate(warmupPaced, perSecond), d -> d.fixedRate(countPaced, perSecond));
        String mode = String.format(Locale.ROOT, "%s (%,d/s)", HALF_RAW_RATE, perSecond);
        rows.add(chorusPaced.row("chorus", mode, List.of(pacedTarget(chorusPaced, rawPaced))));
        rows.add(rawPaced.row(syncVariant, mode, List.of()));
        return rows;
    }

    /** A fresh fan-out: warmup, then the measured phase with the server's PUBLISH count around it. */
    private static Measured measure(
            BenchRedis redis,
            Supplier<FanOut> fanOuts,
            Function<FanOutDriver, FanOutDriver.Outcome> warm,
            Function<FanOutDriver, FanOutDriver.Outcome> measured) {
        try (FanOut fanOut = fanOuts.get()) {
            FanOutDriver driver = new FanOutDriver(fanOut, STALL_TIMEOUT);
            warm.apply(driver);
            OptionalLong before = redis.publishCalls();
            FanOutDriver.Outcome outcome = measured.apply(driver);
            OptionalLong after = redis.publishCalls();
            List<String> notes = new ArrayList<>();
            if (fanOut instanceof TransportChorusFanOut && before.isPresent() && after.isPresent()) {
                notes.add(String.format(
                        Locale.ROOT,
                        "%.1f envelopes per PUBLISH",
                        outcome.messages() / (double) Math.max(1, after.getAsLong() - before.getAsLong())));
            }
            if (fanOut instanceof RawRedisFanOut raw && (raw.cutOffs() > 0 || raw.shortReplies() > 0)) {
                notes.add(String.format(
                        Locale.ROOT,
                        "cut off: %d connections closed by Redis, %d PUBLISH replies with < %d subscribers"
                                + " (client-output-buffer-limit pubsub)",
                        raw.cutOffs(),
                        raw.shortReplies(),
                        RECEIVERS));
            }
            return new Measured(outcome, notes);
        }
    }

    private static String ratios(Measured chorus, Measured raw, String target) {
        return String.format(
                Locale.ROOT,
                "p50 %.2f× raw, p99 %.2f× raw (%s)",
                chorus.p(50) / raw.p(50),
                chorus.p(99) / raw.p(99),
                target);
    }

    private static String maxRateTarget(Measured chorus, Measured sync, Measured pipelined) {
        double rate = chorus.outcome().msgsPerSecond();
        double toSync = rate / sync.outcome().msgsPerSecond();
        double toPipelined = rate / pipelined.outcome().msgsPerSecond();
        long loss = chorus.outcome().loss();
        return String.format(
                Locale.ROOT,
                "target ≥ %.1f× raw sync: %.2f× (%s), ≥ %.1f× raw pipelined: %.2f× (%s), loss 0: %s",
                TARGET_SYNC_RATIO,
                toSync,
                verdict(toSync >= TARGET_SYNC_RATIO),
                TARGET_PIPELINED_RATIO,
                toPipelined,
                verdict(toPipelined >= TARGET_PIPELINED_RATIO),
                verdict(loss == 0));
    }

    private static String pacedTarget(Measured chorus, Measured raw) {
        double p50 = chorus.p(50) / raw.p(50);
        double p99 = chorus.p(99) / raw.p(99);
        return String.format(
                Locale.ROOT,
                "target p50 ≤ %.1f× raw: %.2f× (%s), p99 ≤ %.1f× raw: %.2f× (%s)",
                TARGET_P50_RATIO,
                p50,
                verdict(p50 <= TARGET_P50_RATIO),
                TARGET_P99_RATIO,
                p99,
                verdict(p99 <= TARGET_P99_RATIO));
    }

    private static String verdict(boolean met) {
        return met ? "met" : "MISSED";
    }
}

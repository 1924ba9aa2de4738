package dev.chorus.bench;

import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.postgres.PostgresBackplane;
import dev.chorus.postgres.TransactionalPublish;
import dev.chorus.wire.Envelope;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * What Chorus costs the application's own write transactions: 16 writers updating random rows, without
 * Chorus, with a transactional publish through the outbox (the default) and with NOTIFY inside the
 * transaction (the naive way), each message checked for delivery to a second replica.
 */
final class PostgresWriteCostScenario implements Scenario {

    static final String NAME = "postgres-write-cost";
    static final String TOPIC = "rows";

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(15);
    /** How long delivery may make no progress after the writers stop before what is missing counts as loss. */
    private static final Duration STALL_TIMEOUT = Duration.ofSeconds(10);

    private static final double TARGET_OUTBOX_RATIO = 0.9;
    private static final int COMPILE_PASS_SECONDS = 4;
    private static final int ROUNDS = 3;
    private static final int ROUND_SECONDS = 6;
    private static final double EARLIER_NOTIFY_RATIO = 0.38;

    /** The variants, in the order they run. */
    private enum Variant {
        BASELINE("no chorus (baseline)", null, false),
        OUTBOX_ON_COMMIT("chorus OUTBOX, withOutbox connection", TransactionalPublish.OUTBOX, true),
        OUTBOX("chorus OUTBOX, plain connection", TransactionalPublish.OUTBOX, false),
        NOTIFY_IN_TRANSACTION(
                "chorus NOTIFY_IN_TRANSACTION (naive)", TransactionalPublish.NOTIFY_IN_TRANSACTION, false);

        final String label;
        final @Nullable TransactionalPublish mode;
        /** Whether the writers' connections come from {@code backplane.withOutbox(connection)}. */
        final boolean wrapped;

        Variant(String label, @Nullable TransactionalPublish mode, boolean wrapped) {
            this.label = label;
            this.mode = mode;
            this.wrapped = wrapped;
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "postgres: write cost";
    }

    @Override
    public String legend() {
        return """
                A table of %,d rows (`id int primary key, counter bigint, payload text`, 100-char payloads), \
                recreated, vacuumed and checkpointed before each variant. %d platform threads, each with its own \
                pgjdbc connection (auto-commit off), run transactions `UPDATE … SET counter = counter + 1 WHERE \
                id = ?` on a random row, then `commit()`, for a fixed time after a warmup. **no chorus**: just \
                that. **chorus OUTBOX, withOutbox connection**: `backplane.publish(connection, \
                Message.of("%s", id))` before commit on a writer replica in the default mode, each writer's \
                connection wrapped by `backplane.withOutbox(connection)`, so its `commit()` sends the outbox row \
                and the COMMIT in one round trip; the replica's relay deletes and NOTIFYs the row after commit. \
                **chorus OUTBOX, plain connection**: the same without the wrapper, so the outbox INSERT is a \
                statement of its own at the publish call. **chorus NOTIFY_IN_TRANSACTION**: the same call on a \
                writer replica built with `transactionalPublish(NOTIFY_IN_TRANSACTION)` (`pg_notify` inside the \
                caller's transaction). Every Chorus variant runs a second, receiving replica subscribed to the \
                topic; default settings otherwise.

                messages: transactions committed within the measured windows of all rounds. msgs/s: the median \
                round's transactions per second. Latency: the `commit()` call alone, over all rounds (txn = update \
                + publish + commit in the notes). Loss: transactions committed with a publish (warmups included) − \
                messages the receiving replica got, counted after the writers stop and the relay has drained (must \
                be 0). Before anything is measured, every variant runs %d s unmeasured, so that the JIT has compiled \
                the code of all of them. Then %d rounds each run every variant in the order shown, each after a \
                2 s warmup; a variant's ratio is taken to the baseline of its own round and the median round's \
                ratio is reported, since back-to-back runs on a 2-core machine differ more than the variants do \
                (full run; a quick run is one round with no compile pass).

                **Targets**: OUTBOX (withOutbox connection, the recommended form) ≥ %.1f× the baseline's \
                transactions/s; NOTIFY_IN_TRANSACTION was measured at \
                %.2f× in an earlier study on this kind of machine.
                """.formatted(
                        WriteLoad.ROWS,
                        WriteLoad.WRITERS,
                        TOPIC,
                        COMPILE_PASS_SECONDS,
                        ROUNDS,
                        TARGET_OUTBOX_RATIO,
                        EARLIER_NOTIFY_RATIO);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        // Every variant first runs unmeasured, so the JIT has compiled all of their code before any is measured:
        // with per-variant warmups alone (2 s, then 6 s) the compiler threads still took a quarter to a third of
        // the 2 cores inside the first Chorus variant's measured window.
        Duration compilePass = Duration.ofSeconds(config.pick(COMPILE_PASS_SECONDS, 0));
        Duration warmup = Duration.ofMillis(config.pick(2_000, 300));
        Duration duration = Duration.ofSeconds(config.pick(ROUND_SECONDS, 3));
        int rounds = config.pick(ROUNDS, 1);
        String mode = WriteLoad.WRITERS + " writers, " + rounds + " × " + duration.toSeconds() + " s";
        try (BenchPostgres postgres = BenchPostgres.open()) {
            if (!compilePass.isZero()) {
                for (Variant variant : Variant.values()) {
                    measure(postgres, variant, Duration.ZERO, compilePass);
                }
            }
            // Rounds interleave the variants: back-to-back runs on this kind of machine differ by more than the
            // variants do (the same variant measured 0.47x and 0.86x of its baseline ten minutes apart), so each
            // variant is compared with the baseline of its own round, and the median round is reported.
            Map<Variant, List<Measured>> measured = new EnumMap<>(Variant.class);
            for (int round = 0; round < rounds; round++) {
                for (Variant variant : Variant.values()) {
                    measured.computeIfAbsent(variant, v -> new ArrayList<>())
                            .add(measure(postgres, variant, warmup, duration));
                }
            }
            List<Double> baselines = measured.get(Variant.BASELINE).stream()
                    .map(m -> m.load().perSecond())
                    .toList();
            List<ResultRow> rows = new ArrayList<>();
            for (Variant variant : Variant.values()) {
                rows.add(row(variant, mode, measured.get(variant), baselines));
            }
            return rows;
        } catch (BenchPostgres.Unavailable e) {
            return List.of(e.row(NAME));
        } catch (SQLException e) {
            throw new IllegalStateException("PostgreSQL failed during " + NAME + ": " + e.getMessage(), e);
        }
    }

    private static Measured measure(BenchPostgres postgres, Variant variant, Duration warmup, Duration duration)
            throws SQLException {
        WriteLoad.prepareTable(postgres);
        TransactionalPublish mode = variant.mode;
        if (mode == null) {
            return new Measured(WriteLoad.run(postgres, c -> c, null, warmup, duration), 0, 0, 0, -1);
        }
        String channel = postgres.uniqueChannel("writes");
        DeliveryCounter delivered = new DeliveryCounter();
        LongAdder missed = new LongAdder();
        try (BenchPostgres.Replica writer = postgres.replica("writer", channel, b -> b.transactionalPublish(mode));
                BenchPostgres.Replica receiver = postgres.replica("receiver", channel, b -> b)) {
            receiver.backplane().subscribe(TOPIC, new Subscriber() {
                @Override
                public void onMessage(Envelope envelope) {
                    delivered.increment();
                }

                @Override
                public void onMissed(Missed signal) {
                    missed.increment();
                }
            });
            Readiness.awaitEachHearsTheOthers(List.of(writer.backplane(), receiver.backplane()), CONNECT_TIMEOUT);
            PostgresBackplane backplane = writer.backplane();
            WriteLoad.Result load = WriteLoad.run(
                    postgres,
                    variant.wrapped ? backplane::withOutbox : c -> c,
                    (transaction, id) -> backplane.publish(transaction, Message.of(TOPIC, Integer.toString(id))),
                    warmup,
                    duration);
            long stopped = System.nanoTime();
            long expected = load.committedWithPublish();
            awaitDelivery(delivered, expected);
            long drainNanos = System.nanoTime() - stopped;
            return new Measured(load, expected, delivered.get(), missed.sum(), drainNanos);
        }
    }

    /** Waits until {@code expected} deliveries, or until none arrives for the stall timeout. */
    private static void awaitDelivery(DeliveryCounter delivered, long expected) {
        long last = -1;
        while (delivered.get() < expected && delivered.get() != last) {
            last = delivered.get();
            delivered.awaitAtLeast(expected, System.nanoTime() + STALL_TIMEOUT.toNanos());
        }
    }

    /** One variant's load in one round and what reached the receiving replica. */
    private record Measured(WriteLoad.Result load, long expected, long delivered, long missed, long drainNanos) {}

    /** A variant's row: the median round's rate, every round's ratio to its own baseline, latency of all rounds. */
    private static ResultRow row(Variant variant, String mode, List<Measured> rounds, List<Double> baselines) {
        List<String> notes = new ArrayList<>();
        long messages = 0;
        long expected = 0;
        long delivered = 0;
        long missed = 0;
        long failures = 0;
        long drainNanos = 0;
        String firstFailure = null;
        List<Double> rates = new ArrayList<>();
        List<Double> ratios = new ArrayList<>();
        List<LatencyRecorder> commits = new ArrayList<>();
        List<LatencyRecorder> transactions = new ArrayList<>();
        for (int i = 0; i < rounds.size(); i++) {
            Measured m = rounds.get(i);
            messages += m.load().measured();
            expected += m.expected();
            delivered += m.delivered();
            missed += m.missed();
            failures += m.load().failures();
            drainNanos = Math.max(drainNanos, m.drainNanos());
            if (firstFailure == null) {
                firstFailure = m.load().firstFailure();
            }
            rates.add(m.load().perSecond());
            ratios.add(m.load().perSecond() / baselines.get(i));
            commits.add(m.load().commitLatency());
            transactions.add(m.load().transactionLatency());
        }
        if (variant != Variant.BASELINE) {
            double ratio = median(ratios);
            String each = ratios.stream().map(r -> format("%.2f", r)).collect(Collectors.joining(", "));
            notes.add(
                    variant == Variant.OUTBOX_ON_COMMIT
                            ? format(
                                    "%.2f× baseline, median of rounds %s (target ≥ %.1f×: %s)",
                                    ratio, each, TARGET_OUTBOX_RATIO, ratio >= TARGET_OUTBOX_RATIO ? "met" : "MISSED")
                            : variant == Variant.OUTBOX
                                    ? format("%.2f× baseline, median of rounds %s", ratio, each)
                                    : format(
                                            "%.2f× baseline, median of rounds %s (earlier study: %.2f×)",
                                            ratio, each, EARLIER_NOTIFY_RATIO));
            notes.add(format(
                    "%,d of %,d delivered to the 2nd replica, all within %,.0f ms after the writers stopped",
                    delivered, expected, TimeUnit.NANOSECONDS.toMicros(drainNanos) / 1000.0));
            if (delivered > expected) {
                notes.add(format("%,d DUPLICATES", delivered - expected));
            }
            if (missed > 0) {
                notes.add(format("%d onMissed signals", missed));
            }
        } else {
            notes.add("rounds: "
                    + rates.stream().map(r -> format("%,.0f tx/s", r)).collect(Collectors.joining(", ")));
        }
        LatencyRecorder transaction = LatencyRecorder.merged(transactions);
        notes.add(format(
                "txn p50 %,.0f µs, p99 %,.0f µs", transaction.percentileMicros(50), transaction.percentileMicros(99)));
        if (failures > 0) {
            notes.add(format("%,d FAILED transactions (first: %s)", failures, firstFailure));
        }
        LatencyRecorder commit = LatencyRecorder.merged(commits);
        return new ResultRow(
                NAME,
                variant.label,
                mode,
                messages,
                median(rates),
                commit.percentileMicros(50),
                commit.percentileMicros(99),
                commit.maxMicros(),
                Math.max(0, expected - delivered),
                String.join("; ", notes));
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private static String format(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}

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
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
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
    private static final double EARLIER_NOTIFY_RATIO = 0.38;

    /** The variants, in the order they run. */
    private enum Variant {
        BASELINE("no chorus (baseline)", null),
        OUTBOX("chorus OUTBOX (default)", TransactionalPublish.OUTBOX),
        NOTIFY_IN_TRANSACTION("chorus NOTIFY_IN_TRANSACTION (naive)", TransactionalPublish.NOTIFY_IN_TRANSACTION);

        final String label;
        final @Nullable TransactionalPublish mode;

        Variant(String label, @Nullable TransactionalPublish mode) {
            this.label = label;
            this.mode = mode;
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
                that. **chorus OUTBOX**: `backplane.publish(connection, Message.of("%s", id))` before commit on a \
                writer replica in the default mode (an outbox row in the caller's transaction; the replica's \
                relay deletes and NOTIFYs it after commit). **chorus NOTIFY_IN_TRANSACTION**: the same call on a \
                writer replica built with `transactionalPublish(NOTIFY_IN_TRANSACTION)` (`pg_notify` inside the \
                caller's transaction). Both Chorus variants run a second, receiving replica subscribed to the \
                topic; default settings otherwise.

                messages / msgs/s: transactions committed within the measured window, per second. Latency: the \
                `commit()` call alone (txn = update + publish + commit in the notes). Loss: transactions \
                committed with a publish (warmup included) − messages the receiving replica got, counted after \
                the writers stop and the relay has drained (must be 0). Variants run one after another in the \
                order shown, each after a warmup (full run: 2 s; 8 s for the baseline, which runs first and so \
                also warms the JVM).

                **Targets**: OUTBOX ≥ %.1f× the baseline's transactions/s; NOTIFY_IN_TRANSACTION was measured at \
                %.2f× in an earlier study on this kind of machine.
                """.formatted(WriteLoad.ROWS, WriteLoad.WRITERS, TOPIC, TARGET_OUTBOX_RATIO, EARLIER_NOTIFY_RATIO);
    }

    @Override
    public List<ResultRow> run(BenchConfig config) {
        Duration warmup = Duration.ofMillis(config.pick(2_000, 300));
        // The first variant also warms the JVM: measured after a 2 s warmup, the baseline ran ~15 % slower
        // than the same baseline run again later (4,282 vs 4,910-5,107 tx/s on 2 cores).
        Duration firstWarmup = Duration.ofMillis(config.pick(8_000, 1_000));
        Duration duration = Duration.ofSeconds(config.pick(10, 3));
        String mode = WriteLoad.WRITERS + " writers, " + duration.toSeconds() + " s";
        try (BenchPostgres postgres = BenchPostgres.open()) {
            List<ResultRow> rows = new ArrayList<>();
            double baseline = Double.NaN;
            for (Variant variant : Variant.values()) {
                Measured measured =
                        measure(postgres, variant, variant == Variant.BASELINE ? firstWarmup : warmup, duration);
                if (variant == Variant.BASELINE) {
                    baseline = measured.load().perSecond();
                }
                rows.add(measured.toRow(variant, mode, baseline));
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
            return new Measured(WriteLoad.run(postgres, null, warmup, duration), 0, 0, 0, -1);
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

    /** One variant's load and what reached the receiving replica. */
    private record Measured(WriteLoad.Result load, long expected, long delivered, long missed, long drainNanos) {

        ResultRow toRow(Variant variant, String mode, double baselinePerSecond) {
            List<String> notes = new ArrayList<>();
            if (variant != Variant.BASELINE) {
                double ratio = load.perSecond() / baselinePerSecond;
                notes.add(
                        variant == Variant.OUTBOX
                                ? format(
                                        "%.2f× baseline (target ≥ %.1f×: %s)",
                                        ratio, TARGET_OUTBOX_RATIO, ratio >= TARGET_OUTBOX_RATIO ? "met" : "MISSED")
                                : format("%.2f× baseline (earlier study: %.2f×)", ratio, EARLIER_NOTIFY_RATIO));
                notes.add(format(
                        "%,d of %,d delivered to the 2nd replica, all %,.0f ms after the writers stopped",
                        delivered, expected, TimeUnit.NANOSECONDS.toMicros(drainNanos) / 1000.0));
                if (delivered > expected) {
                    notes.add(format("%,d DUPLICATES", delivered - expected));
                }
                if (missed > 0) {
                    notes.add(format("%d onMissed signals", missed));
                }
            }
            notes.add(format(
                    "txn p50 %,.0f µs, p99 %,.0f µs",
                    load.transactionLatency().percentileMicros(50),
                    load.transactionLatency().percentileMicros(99)));
            if (load.failures() > 0) {
                notes.add(format("%,d FAILED transactions (first: %s)", load.failures(), load.firstFailure()));
            }
            LatencyRecorder commit = load.commitLatency();
            return new ResultRow(
                    NAME,
                    variant.label,
                    mode,
                    load.measured(),
                    load.perSecond(),
                    commit.percentileMicros(50),
                    commit.percentileMicros(99),
                    commit.maxMicros(),
                    Math.max(0, expected - delivered),
                    String.join("; ", notes));
        }

        private static String format(String format, Object... args) {
            return String.format(Locale.ROOT, format, args);
        }
    }
}

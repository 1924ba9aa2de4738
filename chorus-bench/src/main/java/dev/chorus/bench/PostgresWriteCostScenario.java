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
    private static final int COMPILE_PASS_SECONDS = 4;
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

                messages / msgs/s: transactions committed within the measured window, per second. Latency: the \
                `commit()` call alone (txn = update + publish + commit in the notes). Loss: transactions \
                committed with a publish (warmup included) − messages the receiving replica got, counted after \
                the writers stop and the relay has drained (must be 0). Variants run one after another in the \
                order shown, each after a warmup of 2 s; before any is measured, every variant runs %d s \
                unmeasured in the same order, so that the JIT has compiled the code of all of them (full run \
                only).

                **Targets**: OUTBOX (withOutbox connection, the recommended form) ≥ %.1f× the baseline's \
                transactions/s; NOTIFY_IN_TRANSACTION was measured at \
                %.2f× in an earlier study on this kind of machine.
                """.formatted(
                        WriteLoad.ROWS,
                        WriteLoad.WRITERS,
                        TOPIC,
                        COMPILE_PASS_SECONDS,
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
        Duration duration = Duration.ofSeconds(config.pick(10, 3));
        String mode = WriteLoad.WRITERS + " writers, " + duration.toSeconds() + " s";
        try (BenchPostgres postgres = BenchPostgres.open()) {
            List<ResultRow> rows = new ArrayList<>();
            double baseline = Double.NaN;
            if (!compilePass.isZero()) {
                for (Variant variant : Variant.values()) {
                    measure(postgres, variant, Duration.ZERO, compilePass);
                }
            }
            for (Variant variant : Variant.values()) {
                Measured measured = measure(postgres, variant, warmup, duration);
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

    /** One variant's load and what reached the receiving replica. */
    private record Measured(WriteLoad.Result load, long expected, long delivered, long missed, long drainNanos) {

        ResultRow toRow(Variant variant, String mode, double baselinePerSecond) {
            List<String> notes = new ArrayList<>();
            if (variant != Variant.BASELINE) {
                double ratio = load.perSecond() / baselinePerSecond;
                notes.add(
                        variant == Variant.OUTBOX_ON_COMMIT
                                ? format(
                                        "%.2f× baseline (target ≥ %.1f×: %s)",
                                        ratio, TARGET_OUTBOX_RATIO, ratio >= TARGET_OUTBOX_RATIO ? "met" : "MISSED")
                                : variant == Variant.OUTBOX
                                        ? format("%.2f× baseline", ratio)
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

package dev.chorus.bench;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * The application's write load of {@link PostgresWriteCostScenario}: {@value #WRITERS} platform threads,
 * each with its own pgjdbc connection, updating one random row of {@value #ROWS} per transaction, optionally
 * publishing inside it.
 */
final class WriteLoad {

    static final int ROWS = 10_000;
    static final int WRITERS = 16;

    private static final String TABLE = "bench_rows";

    private WriteLoad() {}

    /** What a writer does inside each transaction after its update, before commit: the publish under test. */
    @FunctionalInterface
    interface InTransaction {
        void run(Connection transaction, int id) throws SQLException;
    }

    /** What all writers did; latencies and {@link #measured} cover the measured window only. */
    record Result(
            long measured,
            double perSecond,
            long committedWithPublish,
            LatencyRecorder commitLatency,
            LatencyRecorder transactionLatency,
            long failures,
            @Nullable String firstFailure) {}

    /** Recreates the table with {@value #ROWS} rows, vacuumed, and checkpoints, so every variant starts alike. */
    static void prepareTable(BenchPostgres postgres) throws SQLException {
        String table = postgres.schema() + "." + TABLE;
        postgres.execute("DROP TABLE IF EXISTS " + table);
        postgres.execute("CREATE TABLE " + table
                + " (id int PRIMARY KEY, counter bigint NOT NULL DEFAULT 0, payload text NOT NULL)");
        postgres.execute("INSERT INTO " + table + " (id, payload) SELECT i, repeat('x', 100) FROM generate_series(1, "
                + ROWS + ") i");
        postgres.execute("VACUUM ANALYZE " + table);
        // Needs superuser or pg_checkpoint; without it the variants only risk meeting a checkpoint mid-run.
        try {
            postgres.execute("CHECKPOINT");
        } catch (SQLException e) {
            System.err.println("CHECKPOINT refused (" + e.getMessage() + "); continuing without it");
        }
    }

    /**
     * Runs the writers for {@code warmup} then {@code duration} on connections passed through {@code wrap},
     * each transaction running {@code publish} (when there is one) between its update and its commit.
     */
    static Result run(
            BenchPostgres postgres,
            UnaryOperator<Connection> wrap,
            @Nullable InTransaction publish,
            Duration warmup,
            Duration duration)
            throws SQLException {
        List<Connection> connections = new ArrayList<>();
        try {
            for (int i = 0; i < WRITERS; i++) {
                Connection connection = wrap.apply(postgres.connect());
                connection.setAutoCommit(false);
                connections.add(connection);
            }
            String sql = "UPDATE " + postgres.schema() + "." + TABLE + " SET counter = counter + 1 WHERE id = ?";
            CountDownLatch start = new CountDownLatch(1);
            List<Writer> writers = new ArrayList<>();
            List<Thread> threads = new ArrayList<>();
            long[] window = new long[2];
            for (int i = 0; i < WRITERS; i++) {
                Writer writer = new Writer(connections.get(i), sql, publish, start, window);
                writers.add(writer);
                threads.add(Thread.ofPlatform().name("writer-" + i).start(writer));
            }
            // The window is written before the latch opens; the latch makes it visible to every writer.
            window[0] = System.nanoTime() + warmup.toNanos();
            window[1] = window[0] + duration.toNanos();
            start.countDown();
            for (Thread thread : threads) {
                thread.join();
            }
            return combine(writers, duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the writers ran", e);
        } finally {
            for (Connection connection : connections) {
                connection.close();
            }
        }
    }

    private static Result combine(List<Writer> writers, Duration duration) {
        long measured = 0;
        long committedWithPublish = 0;
        long failures = 0;
        String firstFailure = null;
        List<LatencyRecorder> commits = new ArrayList<>();
        List<LatencyRecorder> transactions = new ArrayList<>();
        for (Writer writer : writers) {
            measured += writer.measured;
            committedWithPublish += writer.committedWithPublish;
            failures += writer.failures;
            if (firstFailure == null) {
                firstFailure = writer.firstFailure;
            }
            commits.add(writer.commitLatency);
            transactions.add(writer.transactionLatency);
        }
        return new Result(
                measured,
                measured * 1e9 / duration.toNanos(),
                committedWithPublish,
                LatencyRecorder.merged(commits),
                LatencyRecorder.merged(transactions),
                failures,
                firstFailure);
    }

    /** One writer thread; its fields are read after it is joined. */
    private static final class Writer implements Runnable {
        private final Connection connection;
        private final String sql;
        private final @Nullable InTransaction publish;
        private final CountDownLatch start;
        private final long[] window;
        private final SplittableRandom random = new SplittableRandom();
        private final LatencyRecorder commitLatency = new LatencyRecorder();
        private final LatencyRecorder transactionLatency = new LatencyRecorder();
        private long measured;
        private long committedWithPublish;
        private long failures;
        private @Nullable String firstFailure;

        Writer(
                Connection connection,
                String sql,
                @Nullable InTransaction publish,
                CountDownLatch start,
                long[] window) {
            this.connection = connection;
            this.sql = sql;
            this.publish = publish;
            this.start = start;
            this.window = window;
        }

        @Override
        public void run() {
            try (PreparedStatement update = connection.prepareStatement(sql)) {
                start.await();
                long measureFrom = window[0];
                long end = window[1];
                long began;
                while ((began = System.nanoTime()) - end < 0) {
                    transaction(update, began, measureFrom, end);
                }
            } catch (SQLException e) {
                fail(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** One transaction; counted as measured when it commits inside the window. */
        private void transaction(PreparedStatement update, long began, long measureFrom, long end) {
            int id = random.nextInt(ROWS) + 1;
            try {
                update.setInt(1, id);
                update.executeUpdate();
                if (publish != null) {
                    publish.run(connection, id);
                }
                long committing = System.nanoTime();
                connection.commit();
                long committed = System.nanoTime();
                if (publish != null) {
                    committedWithPublish++;
                }
                if (committed - measureFrom >= 0 && committed - end < 0) {
                    measured++;
                    commitLatency.record(committed - committing);
                    transactionLatency.record(committed - began);
                }
            } catch (SQLException | RuntimeException e) {
                fail(e);
                try {
                    connection.rollback();
                } catch (SQLException rollbackFailed) {
                    // The next statement fails too and is counted; nothing more to do here.
                }
            }
        }

        private void fail(Exception e) {
            failures++;
            if (firstFailure == null) {
                firstFailure = e.getClass().getSimpleName() + ": " + e.getMessage();
            }
        }
    }
}

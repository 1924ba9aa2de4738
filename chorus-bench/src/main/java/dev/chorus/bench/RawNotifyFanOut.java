package dev.chorus.bench;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The raw PostgreSQL baseline: batched {@code pg_notify} from one pgjdbc connection into bare vertx-pg-client
 * listeners, one per receiver, each with its own {@code Vertx}. No envelopes, no sequence numbers, no
 * hand-off to a delivery thread: the payload is the 64 bytes in base64 plus a counter, decoded and timed
 * on the listener's event loop.
 *
 * <p>{@link #publish} queues the payload; a sender thread drains up to {@value #BATCH} at a time and sends
 * them in one auto-commit statement, so one transaction carries up to {@value #BATCH} distinct notifications
 * (PostgreSQL folds identical payloads in one transaction, hence the counter). Chorus's publisher has the
 * same shape (queue, one sending thread, drain what is there), so both are driven alike.
 */
final class RawNotifyFanOut implements FanOut {

    static final int BATCH = 100;
    static final String VARIANT = "raw batched pg_notify → vertx LISTEN";

    private static final String SQL = "SELECT pg_notify(?, p) FROM unnest(?::text[]) p";
    /** Tells the sender to stop; real payloads are never empty. */
    private static final String STOP = "";
    /** Length of the base64 text of a payload, which the counter follows. */
    private static final int ENCODED_LENGTH = 4 * ((Payloads.SIZE + 2) / 3);

    private final String channel;
    private final Connection connection;
    private final List<RawListener> listeners = new ArrayList<>();
    private final List<Receiver> receivers = new ArrayList<>();
    private final LinkedBlockingQueue<String> queue = new LinkedBlockingQueue<>();
    private final LongAdder failures = new LongAdder();
    private final AtomicLong transactions = new AtomicLong();
    private final AtomicLong notifications = new AtomicLong();
    private final Thread sender;
    private long counter;

    RawNotifyFanOut(BenchPostgres postgres, int receiverCount) throws SQLException {
        this.channel = postgres.uniqueChannel("raw");
        this.connection = postgres.connect();
        try {
            for (int i = 0; i < receiverCount; i++) {
                Receiver receiver = new Receiver();
                receivers.add(receiver);
                listeners.add(
                        RawListener.listen(postgres, channel, (payload, now) -> receiver.accept(decode(payload), now)));
            }
        } catch (RuntimeException e) {
            listeners.forEach(RawListener::close);
            connection.close();
            throw e;
        }
        this.sender = Thread.ofPlatform().name("raw-notify-sender").start(this::send);
    }

    private static byte[] decode(String payload) {
        return Base64.getDecoder().decode(payload.substring(0, ENCODED_LENGTH));
    }

    private static String encode(byte[] payload, long counter) {
        return Base64.getEncoder().encodeToString(payload) + "." + counter;
    }

    private void send() {
        List<String> batch = new ArrayList<>(BATCH);
        try (PreparedStatement statement = connection.prepareStatement(SQL)) {
            statement.setString(1, channel);
            while (true) {
                batch.add(queue.take());
                queue.drainTo(batch, BATCH - 1);
                boolean stop = batch.remove(STOP);
                if (!batch.isEmpty()) {
                    sendBatch(statement, batch);
                }
                batch.clear();
                if (stop) {
                    return;
                }
            }
        } catch (SQLException e) {
            failures.increment();
            System.err.println("raw-notify-sender: cannot prepare: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void sendBatch(PreparedStatement statement, List<String> batch) {
        Object[] payloads = batch.toArray();
        try {
            statement.setArray(2, connection.createArrayOf("text", payloads));
            statement.executeQuery().close();
            transactions.incrementAndGet();
            notifications.addAndGet(payloads.length);
        } catch (SQLException e) {
            failures.add(payloads.length);
            System.err.println("raw-notify-sender: batch failed: " + e.getMessage());
        }
    }

    @Override
    public String variant() {
        return VARIANT;
    }

    @Override
    public List<Receiver> receivers() {
        return receivers;
    }

    @Override
    public void publish(byte[] payload) {
        queue.add(encode(payload, counter++));
    }

    @Override
    public long lossSignals() {
        return failures.sum();
    }

    /** Statements (auto-commit transactions) sent so far. */
    long transactions() {
        return transactions.get();
    }

    /** Notifications sent so far. */
    long notifications() {
        return notifications.get();
    }

    @Override
    public void close() {
        queue.add(STOP);
        try {
            if (!sender.join(Duration.ofSeconds(10))) {
                sender.interrupt();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        listeners.forEach(RawListener::close);
        try {
            connection.close();
        } catch (SQLException e) {
            // Closing anyway.
        }
    }
}

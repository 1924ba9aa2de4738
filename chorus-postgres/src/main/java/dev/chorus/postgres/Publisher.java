package dev.chorus.postgres;

import dev.chorus.Backoff;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.PublishFailedException;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.Pause;
import dev.chorus.internal.SendQueue;
import dev.chorus.postgres.NotificationPayloads.Piece;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * The sending side of a replica, on one dedicated pgjdbc connection and one platform thread
 * (chorus-postgres-publisher). Invariants:
 *
 *  - Envelopes leave in the order they were stamped. publish() stamps and enqueues under the backplane's
 *    publish lock; this thread sends the queue in order, many envelopes per notification and many
 *    notifications per transaction (one statement: pg_notify over unnest of a text[]).
 *  - The outbox relay deletes rows and notifies them in ONE transaction, so a row is announced if and
 *    only if its deletion commits. It stamps the rows under the publish lock after draining everything
 *    already queued into the same transaction, so relayed envelopes take their place in sequence order.
 *  - Which rows to take and when, and the relay's turn, are OutboxRelay's (its invariants are there).
 *  - A failed transaction fails the futures of the direct publishes in it (receivers will see the gap) and
 *    leaves relayed rows in the outbox to be relayed again.
 */

/** Sends queued envelopes with batched NOTIFY and, with its {@link OutboxRelay}, relays the transactional outbox. */
final class Publisher implements AutoCloseable {

    /** What the publisher needs from its backplane to stamp relayed outbox rows in sequence. */
    interface Stamping {
        /** Runs {@code action} under the publish lock. */
        <T> T underPublishLock(Supplier<T> action);

        /** Stamps, encodes and delivers locally; call under the publish lock. */
        byte[] stamp(Message message);

        /**
         * {@code message} could not be stamped: records it as lost so every receiver sees the loss, and returns
         * the envelope that announces it, or null when even that cannot be encoded (receivers then see the gap
         * at the next envelope on the topic). Call under the publish lock.
         */
        byte @Nullable [] lost(Message message, RuntimeException cause);
    }

    private static final Logger LOG = LoggerFactory.getLogger(Publisher.class);
    private static final int MAX_BATCH = 4_096;

    private record Outgoing(byte[] envelope, @Nullable CompletableFuture<Void> sent) {}

    private static final Outgoing WAKE_UP = new Outgoing(new byte[0], null);

    private final PostgresDatabase database;
    private final String channel;
    private final Stamping stamping;
    private final SpillReferences references;
    private final java.util.UUID origin;
    /** Null when this replica does not relay the outbox. */
    private final @Nullable OutboxRelay relay;

    private final Backoff backoff;
    private final SendQueue<Outgoing> queue;
    private final FailureLog failures = new FailureLog(LOG);
    private final CountDownLatch closed = new CountDownLatch(1);
    private final String notifySql;
    private final String spillSql;
    private @Nullable Connection connection;
    private @Nullable Thread thread;

    Publisher(
            PostgresDatabase database,
            String channel,
            Stamping stamping,
            SpillReferences references,
            java.util.UUID origin,
            boolean relay,
            Duration outboxPollInterval,
            int capacity,
            long maxBytes,
            Backoff backoff) {
        this.database = database;
        this.channel = channel;
        this.stamping = stamping;
        this.references = references;
        this.origin = origin;
        this.relay = relay ? new OutboxRelay(database.schema(), channel, stamping, outboxPollInterval) : null;
        this.backoff = backoff;
        this.queue = new SendQueue<>(capacity, maxBytes, o -> o.envelope().length);
        this.notifySql = "SELECT count(pg_notify(?, p)) FROM unnest(?::text[]) AS p";
        this.spillSql = "INSERT INTO " + database.schema() + ".spill (channel, envelope) VALUES (?, ?) RETURNING id";
    }

    void start() {
        if (relay != null) {
            relay.start();
        }
        // A platform thread, not a virtual one: waking a parked platform thread costs a few microseconds, starting
        // a virtual thread's continuation on a carrier several times that, and this wake-up is on the path of
        // every envelope. Measured in four interleaved ping-pong pairs: p50 1.53-1.69x raw instead of 1.75-2.11x.
        thread = Thread.ofPlatform().daemon().name("chorus-postgres-publisher").start(this::run);
    }

    /** Queues an envelope; call under the publish lock. Fails at once when the queue is full. */
    CompletableFuture<Void> offer(byte[] envelope) {
        CompletableFuture<Void> sent = new CompletableFuture<>();
        if (!queue.offer(new Outgoing(envelope, sent))) {
            sent.completeExceptionally(new PublishFailedException(
                    "The PostgreSQL publish queue is full ("
                            + queue.refusal(envelope.length) + "): PostgreSQL is unreachable or slower than the publish"
                            + " rate. Other replicas will see the gap and repair.",
                    null));
        }
        return sent;
    }

    /** Queues an envelope nobody waits for (a canary); dropped silently when the queue is full. */
    void offerUnwatched(byte[] envelope) {
        queue.offer(new Outgoing(envelope, null));
    }

    /** A transaction just wrote an outbox row: poll the outbox often for a short while. */
    void kickOutbox() {
        if (relay != null && relay.kick()) {
            queue.offer(WAKE_UP);
        }
    }

    /** Envelopes waiting to be sent. */
    int queued() {
        return queue.size();
    }

    /** Bytes of envelopes waiting to be sent. */
    long queuedBytes() {
        return queue.bytes();
    }

    private void run() {
        try {
            loop();
            flushOnClose();
        } finally {
            // Also after an Error: the connection holds the relay's turn, which must not outlive this thread.
            closeConnection();
        }
    }

    private void loop() {
        Backoff.Attempts attempts = backoff.attempts();
        List<Outgoing> batch = new ArrayList<>();
        while (closed.getCount() > 0) {
            try {
                Outgoing first = queue.poll(waitNanos(), TimeUnit.NANOSECONDS);
                if (first != null) {
                    batch.add(first);
                    queue.drainTo(batch, MAX_BATCH - 1);
                }
                batch.removeIf(o -> o == WAKE_UP);
                OutboxRelay relayDue = relay != null && relay.due() ? relay : null;
                if (batch.isEmpty() && relayDue == null) {
                    continue;
                }
                Connection c = connection();
                if (relayDue != null) {
                    relayDue.polled(c, sendWithRelay(c, relayDue, batch));
                } else {
                    send(c, batch);
                }
                batch.clear();
                attempts.reset();
                failures.recovered("PostgreSQL publisher on channel '" + channel + "' sends again");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail(batch, e);
                break;
            } catch (SQLException | RuntimeException e) {
                fail(batch, e);
                batch.clear();
                closeConnection();
                failures.failure(
                        "PostgreSQL publisher on channel '" + channel + "' cannot send to " + database.describe()
                                + "; failing queued publishes and retrying",
                        e);
                if (!Pause.unlessClosed(closed, attempts.next())) {
                    break;
                }
            }
        }
    }

    /** Sends what was published before close(), once; what cannot be sent fails its future. */
    private void flushOnClose() {
        List<Outgoing> rest = new ArrayList<>();
        queue.drainTo(rest);
        rest.removeIf(o -> o == WAKE_UP);
        if (rest.isEmpty()) {
            return;
        }
        try {
            send(connection(), rest);
        } catch (SQLException | RuntimeException e) {
            fail(rest, e);
        }
    }

    private long waitNanos() {
        return relay == null ? TimeUnit.SECONDS.toNanos(1) : relay.waitNanos();
    }

    private Connection connection() throws SQLException {
        Connection c = connection;
        if (c == null) {
            database.ensureSchema(); // at once if the backplane's start already did it
            c = database.dedicatedConnection();
            c.setAutoCommit(true);
            try (java.sql.Statement statement = c.createStatement()) {
                // This connection's transactions only send notifications, delete outbox rows and write spill
                // rows. Waiting for their WAL flush protects nothing that matters: a deletion lost in a server
                // crash means the row is relayed again (at-least-once), and the notification goes out at commit
                // either way. Not waiting keeps the relay off the WAL flush that the writers queue for.
                statement.execute("SET synchronous_commit = off");
            }
            if (relay != null) {
                relay.limitSession(c);
            }
            connection = c;
        }
        return c;
    }

    /** Sends {@code batch} in one statement (plus spill rows in the same transaction). */
    private int send(Connection c, List<Outgoing> batch) throws SQLException {
        if (batch.isEmpty()) {
            return 0;
        }
        List<byte[]> envelopes = new ArrayList<>(batch.size());
        for (Outgoing outgoing : batch) {
            envelopes.add(outgoing.envelope());
        }
        boolean spills = envelopes.stream().anyMatch(NotificationPayloads::needsSpill);
        if (spills) {
            c.setAutoCommit(false);
            try {
                notify(c, pieces(c, envelopes));
                c.commit();
            } catch (SQLException | RuntimeException e) {
                rollbackQuietly(c);
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        } else {
            notify(c, pieces(c, envelopes));
        }
        complete(batch);
        return 0;
    }

    /** Relays outbox rows and sends {@code batch}, all in one transaction; returns the rows relayed. */
    private int sendWithRelay(Connection c, OutboxRelay relay, List<Outgoing> batch) throws SQLException {
        c.setAutoCommit(false);
        try {
            List<Message> rows = relay.take(c);
            List<byte[]> envelopes = new ArrayList<>(batch.size() + rows.size());
            if (rows.isEmpty()) {
                c.commit();
                c.setAutoCommit(true);
                return send(c, batch);
            }
            stamping.underPublishLock(() -> {
                // Everything stamped before these rows must go first: drain it into this transaction.
                queue.drainTo(batch);
                batch.removeIf(o -> o == WAKE_UP);
                for (Outgoing outgoing : batch) {
                    envelopes.add(outgoing.envelope());
                }
                relay.stampInto(rows, envelopes);
                return null;
            });
            notify(c, pieces(c, envelopes));
            c.commit();
            complete(batch);
            return rows.size();
        } catch (SQLException | RuntimeException e) {
            rollbackQuietly(c);
            throw e;
        } finally {
            if (!c.isClosed()) {
                c.setAutoCommit(true);
            }
        }
    }

    private List<Piece> pieces(Connection c, List<byte[]> envelopes) throws SQLException {
        List<Piece> pieces = new ArrayList<>(envelopes.size());
        for (byte[] envelope : envelopes) {
            pieces.add(
                    NotificationPayloads.needsSpill(envelope)
                            ? new Piece.Spilled(references.reference(spill(c, envelope), origin))
                            : new Piece.Inline(envelope));
        }
        return pieces;
    }

    private long spill(Connection c, byte[] envelope) throws SQLException {
        try (PreparedStatement statement = c.prepareStatement(spillSql)) {
            statement.setString(1, channel);
            statement.setBytes(2, envelope);
            try (ResultSet rs = statement.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private void notify(Connection c, List<Piece> pieces) throws SQLException {
        List<String> payloads = NotificationPayloads.pack(pieces);
        if (payloads.isEmpty()) {
            return;
        }
        if (payloads.size() == 1) {
            try (PreparedStatement statement = c.prepareStatement("SELECT pg_notify(?, ?)")) {
                statement.setString(1, channel);
                statement.setString(2, payloads.get(0));
                statement.executeQuery().close();
            }
            return;
        }
        try (PreparedStatement statement = c.prepareStatement(notifySql)) {
            statement.setString(1, channel);
            // Payloads hold only base64, 'e', 's', '.' and digits: nothing an array literal must quote, so the
            // literal is built directly (pgjdbc's createArrayOf escapes it character by character: measured at
            // two thirds of the publisher thread's time under load).
            statement.setString(2, "{" + String.join(",", payloads) + "}");
            statement.executeQuery().close();
        }
    }

    private static void complete(List<Outgoing> batch) {
        for (Outgoing outgoing : batch) {
            if (outgoing.sent() != null) {
                outgoing.sent().complete(null);
            }
        }
    }

    private static void fail(List<Outgoing> batch, Throwable cause) {
        for (Outgoing outgoing : batch) {
            if (outgoing.sent() != null) {
                outgoing.sent()
                        .completeExceptionally(new PublishFailedException(
                                "Could not send to the other replicas through PostgreSQL: " + FailureLog.describe(cause)
                                        + ". Local subscribers received it; other replicas will see the gap and repair.",
                                cause));
            }
        }
    }

    private static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException e) {
            LOG.debug("Rollback failed; the connection is being discarded", e);
        }
    }

    private void closeConnection() {
        Connection c = connection;
        connection = null;
        if (relay != null) {
            relay.connectionClosed();
        }
        if (c != null) {
            try {
                c.close();
            } catch (SQLException e) {
                LOG.debug("Closing the publisher connection failed", e);
            }
        }
    }

    @Override
    public void close() {
        if (closed.getCount() == 0) {
            return;
        }
        closed.countDown();
        queue.offer(WAKE_UP);
        Thread t = thread;
        if (t != null) {
            try {
                if (!t.join(Duration.ofSeconds(5))) {
                    t.interrupt();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

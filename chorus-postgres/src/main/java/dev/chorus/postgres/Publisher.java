package dev.chorus.postgres;

import dev.chorus.Backoff;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.PublishFailedException;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.SendQueue;
import dev.chorus.postgres.NotificationPayloads.Piece;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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
 *  - One replica relays a channel at a time: it holds the relay's turn (a session advisory lock) from its first
 *    relay while kicked until its kick window is over and it has caught up. Rows of one writer's transaction
 *    are then taken, stamped and delivered in id order, the order of its publish calls, even when they need
 *    several relay transactions. Two relays side by side (SKIP LOCKED), or taking turns per transaction,
 *    split such transactions: the relaying replica delivers to its own subscribers when it stamps, so it
 *    could deliver the second part before the notification of the first part, relayed by the other replica,
 *    reached it. A 2,500-row transaction showed both.
 *  - It never relies on outbox id order for correctness: ids are assigned at insert and commit out of order.
 *    A full scan takes every row it can lock (SKIP LOCKED) at least once per outbox poll interval. The
 *    frequent polls after a local commit scan only from STRAGGLER_IDS below the highest id relayed so far:
 *    deleted rows leave dead index entries at the low end until VACUUM, and walking all of them on every
 *    poll made the relay's own backend the busiest one after the writers (measured: its CPU tripled within
 *    30 s of a 16-writer run). A row that commits more than STRAGGLER_IDS ids late waits for the full scan.
 *  - A row that cannot be stamped (too large for this replica's limit, an invalid topic) is deleted like the
 *    others but announced as lost in its place: a sequence number is consumed and a CONTROL envelope names it,
 *    so every subscriber of the topic sees a Missed. Retrying could never succeed and would stall the relay.
 *  - A failed transaction fails the futures of the direct publishes in it (receivers will see the gap) and
 *    leaves relayed rows in the outbox to be relayed again.
 */

/** Sends queued envelopes with batched NOTIFY and relays the transactional outbox. */
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
    private static final int MAX_RELAY_ROWS = 1_000;
    /** How far below the highest relayed id a quick poll still looks for rows that committed late. */
    private static final long STRAGGLER_IDS = 1_000;
    /**
     * Arbitrary constant ("crly"): with the hash of schema and channel, the session advisory lock that gives one
     * replica the relay's turn. See the invariants above for why a turn outlasts one relay transaction.
     */
    private static final int RELAY_LOCK = 0x63726c79;
    /** Idle time after which PostgreSQL ends the relay's session, freeing its turn (at least 5 poll intervals). */
    private static final long RELAY_SESSION_IDLE_MILLIS = 10_000;
    /** After a kick, poll the outbox this often until the kick window ends. */
    private static final long KICKED_POLL_NANOS = Duration.ofMillis(2).toNanos();

    private static final long KICK_WINDOW_NANOS = Duration.ofMillis(300).toNanos();

    private record Outgoing(byte[] envelope, @Nullable CompletableFuture<Void> sent) {}

    private static final Outgoing WAKE_UP = new Outgoing(new byte[0], null);

    private final PostgresDatabase database;
    private final String channel;
    private final Stamping stamping;
    private final SpillReferences references;
    private final java.util.UUID origin;
    private final boolean relay;
    private final long outboxPollNanos;
    private final Backoff backoff;
    private final SendQueue<Outgoing> queue;
    private final FailureLog failures = new FailureLog(LOG);
    private final CountDownLatch closed = new CountDownLatch(1);
    private final String schema;
    private final String notifySql;
    private final String relayTakingTurnSql;
    private final String relayInTurnSql;
    private final String releaseTurnSql;
    private final String spillSql;
    /** Whether this replica's connection holds the relay's turn. */
    private boolean myTurn;

    private volatile long kickedUntil;
    private long nextOutboxPoll;
    private long nextFullScan;
    private long relayedUpTo;
    /** After a full batch, the next relay continues after its last id, whatever kind of scan it was. */
    private long continueAfter = -1;

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
        this.relay = relay;
        this.outboxPollNanos = outboxPollInterval.toNanos();
        this.backoff = backoff;
        this.queue = new SendQueue<>(capacity, maxBytes, o -> o.envelope().length);
        this.schema = database.schema();
        this.notifySql = "SELECT count(pg_notify(?, p)) FROM unnest(?::text[]) AS p";
        // "turn" runs once, before any row is taken; a relay without the turn deletes nothing and learns so from
        // the first column of the one row the outer join then returns.
        String take = "taken AS (DELETE FROM " + schema + ".outbox WHERE (SELECT mine FROM turn) AND id IN (SELECT id"
                + " FROM " + schema + ".outbox WHERE channel = ? AND id > ? ORDER BY id LIMIT " + MAX_RELAY_ROWS
                + " FOR UPDATE SKIP LOCKED) RETURNING id, topic, headers, payload)"
                + " SELECT turn.mine, taken.id, taken.topic, taken.headers, taken.payload FROM turn LEFT JOIN taken ON"
                + " true";
        this.relayTakingTurnSql =
                "WITH turn AS (SELECT pg_try_advisory_lock(" + RELAY_LOCK + ", hashtext(?)) AS mine), " + take;
        // Holding the turn, ask for it no more (a session lock taken twice needs two unlocks), but bind the same
        // parameters as the form that asks.
        this.relayInTurnSql = "WITH turn AS (SELECT ?::text IS NOT NULL AS mine), " + take;
        this.releaseTurnSql = "SELECT pg_advisory_unlock(" + RELAY_LOCK + ", hashtext(?))";
        this.spillSql = "INSERT INTO " + schema + ".spill (channel, envelope) VALUES (?, ?) RETURNING id";
    }

    void start() {
        nextOutboxPoll = System.nanoTime();
        nextFullScan = nextOutboxPoll;
        kickedUntil = nextOutboxPoll - 1;
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
        long now = System.nanoTime();
        long left = kickedUntil - now;
        kickedUntil = now + KICK_WINDOW_NANOS;
        if (left < KICK_WINDOW_NANOS / 2) {
            // In the first half of a window the relay polls every few ms anyway; waking it on every commit of
            // a busy writer cost a thread wake-up per transaction for nothing. Past the half, wake it: it may
            // be deciding right now that the window is over.
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
                boolean relayDue = relay && System.nanoTime() - nextOutboxPoll >= 0;
                if (batch.isEmpty() && !relayDue) {
                    continue;
                }
                Connection c = connection();
                int relayed = relayDue ? sendWithRelay(c, batch) : send(c, batch);
                if (relayDue) {
                    scheduleNextPoll(relayed);
                    if (myTurn && relayed < MAX_RELAY_ROWS && System.nanoTime() - kickedUntil >= 0) {
                        releaseTurn(c);
                    }
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
                if (!pause(attempts.next())) {
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
        if (!relay) {
            return TimeUnit.SECONDS.toNanos(1);
        }
        return Math.max(0, nextOutboxPoll - System.nanoTime());
    }

    private String turnKey() {
        return schema + "." + channel;
    }

    /** Lets another replica relay: this one has caught up and no longer commits transactional publishes. */
    private void releaseTurn(Connection c) throws SQLException {
        try (PreparedStatement statement = c.prepareStatement(releaseTurnSql)) {
            statement.setString(1, turnKey());
            statement.executeQuery().close();
        }
        myTurn = false;
    }

    private void scheduleNextPoll(int relayed) {
        long now = System.nanoTime();
        if (relayed >= MAX_RELAY_ROWS) {
            nextOutboxPoll = now; // more are waiting
        } else if (now - kickedUntil < 0) {
            nextOutboxPoll = now + KICKED_POLL_NANOS;
        } else {
            nextOutboxPoll = now + outboxPollNanos;
        }
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
            if (relay) {
                limitSession(c);
            }
            connection = c;
        }
        return c;
    }

    /**
     * Lets PostgreSQL end this session, and with it the relay's turn, when this replica stops talking: frozen,
     * or cut off without a FIN. The relay polls at least once per outbox poll interval, so a live replica never
     * comes near these limits. Servers before PostgreSQL 14 lack idle_session_timeout; TCP keepalive still
     * covers a vanished host there.
     */
    private void limitSession(Connection c) {
        long idleMillis = Math.max(RELAY_SESSION_IDLE_MILLIS, 5 * TimeUnit.NANOSECONDS.toMillis(outboxPollNanos));
        for (String setting : List.of(
                "SET idle_in_transaction_session_timeout = " + idleMillis,
                "SET idle_session_timeout = " + idleMillis,
                "SET tcp_keepalives_idle = 5",
                "SET tcp_keepalives_interval = 2",
                "SET tcp_keepalives_count = 3")) {
            try (java.sql.Statement statement = c.createStatement()) {
                statement.execute(setting);
            } catch (SQLException e) {
                LOG.debug("PostgreSQL refused '{}' on the relay's connection: {}", setting, e.getMessage());
            }
        }
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
    private int sendWithRelay(Connection c, List<Outgoing> batch) throws SQLException {
        c.setAutoCommit(false);
        try {
            List<Message> rows = takeOutboxRows(c);
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
                for (Message row : rows) {
                    try {
                        envelopes.add(stamping.stamp(row));
                    } catch (RuntimeException e) {
                        // Deterministic (too large, invalid topic): a retry would fail forever and hold up every
                        // row behind it. The row committed, so its loss is announced, never dropped quietly.
                        byte[] announcement = stamping.lost(row, e);
                        if (announcement != null) {
                            envelopes.add(announcement);
                        }
                    }
                }
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

    private List<Message> takeOutboxRows(Connection c) throws SQLException {
        long after = continueAfter;
        if (after < 0) {
            long now = System.nanoTime();
            boolean full = now - nextFullScan >= 0;
            if (full) {
                nextFullScan = now + outboxPollNanos;
            }
            after = full ? 0 : Math.max(0, relayedUpTo - STRAGGLER_IDS);
        }
        // Within one writer's transaction, ids follow the order of its publish calls; keep that order.
        TreeMap<Long, Message> byId = new TreeMap<>();
        try (PreparedStatement statement = c.prepareStatement(myTurn ? relayInTurnSql : relayTakingTurnSql)) {
            statement.setString(1, turnKey());
            statement.setString(2, channel);
            statement.setLong(3, after);
            try (ResultSet rs = statement.executeQuery()) {
                while (rs.next()) {
                    // A session lock outlives a rollback of this transaction; a failure closes the connection.
                    myTurn = rs.getBoolean(1);
                    long id = rs.getLong(2);
                    if (rs.wasNull()) {
                        continue;
                    }
                    Array headerArray = rs.getArray(4);
                    String[] pairs = headerArray == null ? new String[0] : (String[]) headerArray.getArray();
                    Map<String, String> headers = new LinkedHashMap<>();
                    for (int i = 0; i + 1 < pairs.length; i += 2) {
                        headers.put(pairs[i], pairs[i + 1]);
                    }
                    byId.put(id, new Message(rs.getString(3), headers, rs.getBytes(5)));
                }
            }
        }
        if (!byId.isEmpty()) {
            relayedUpTo = Math.max(relayedUpTo, byId.lastKey());
        }
        // A full batch may have cut a transaction: take the rest of it, and what follows, before anything else,
        // and keep the turn until a batch comes back short.
        continueAfter = byId.size() >= MAX_RELAY_ROWS ? byId.lastKey() : -1;
        return new ArrayList<>(byId.values());
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
        myTurn = false; // a session lock ends with its connection
        continueAfter = -1; // the batch it continued may have been rolled back
        if (c != null) {
            try {
                c.close();
            } catch (SQLException e) {
                LOG.debug("Closing the publisher connection failed", e);
            }
        }
    }

    private boolean pause(Duration delay) {
        try {
            return !closed.await(delay.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
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

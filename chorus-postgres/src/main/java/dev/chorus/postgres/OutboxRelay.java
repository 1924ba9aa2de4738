package dev.chorus.postgres;

import dev.chorus.backplane.Message;
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
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * The outbox relay of one replica: which rows to take from the transactional outbox and when, and whose turn it
 * is. It runs on the publisher's thread and connection, inside the publisher's transaction, so that deleting the
 * rows and notifying them commit together (a row is announced if and only if its deletion commits). Invariants:
 *
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
 *
 * Only the publisher's thread calls it, except kick(), which writers' threads call after a commit.
 */

/** Drains a channel's rows from the transactional outbox for the {@link Publisher} to notify in the same transaction. */
final class OutboxRelay {

    // The publisher's logger: the relay's messages stay under the category they were always logged in.
    private static final Logger LOG = LoggerFactory.getLogger(Publisher.class);
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

    private final String channel;
    private final Publisher.Stamping stamping;
    private final long outboxPollNanos;
    private final String schema;
    private final String relayTakingTurnSql;
    private final String relayInTurnSql;
    private final String releaseTurnSql;
    /** Whether this replica's connection holds the relay's turn. */
    private boolean myTurn;

    private volatile long kickedUntil;
    private long nextOutboxPoll;
    private long nextFullScan;
    private long relayedUpTo;
    /** After a full batch, the next relay continues after its last id, whatever kind of scan it was. */
    private long continueAfter = -1;

    OutboxRelay(String schema, String channel, Publisher.Stamping stamping, Duration outboxPollInterval) {
        this.schema = schema;
        this.channel = channel;
        this.stamping = stamping;
        this.outboxPollNanos = outboxPollInterval.toNanos();
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
    }

    /** The first poll is due at once. */
    void start() {
        nextOutboxPoll = System.nanoTime();
        nextFullScan = nextOutboxPoll;
        kickedUntil = nextOutboxPoll - 1;
    }

    /**
     * A transaction just wrote an outbox row: poll the outbox often for a short while. Returns whether to wake
     * the publisher's thread for it.
     */
    boolean kick() {
        long now = System.nanoTime();
        long left = kickedUntil - now;
        kickedUntil = now + KICK_WINDOW_NANOS;
        // In the first half of a window the relay polls every few ms anyway; waking it on every commit of
        // a busy writer cost a thread wake-up per transaction for nothing. Past the half, wake it: it may
        // be deciding right now that the window is over.
        return left < KICK_WINDOW_NANOS / 2;
    }

    /** Whether the outbox is due to be polled. */
    boolean due() {
        return System.nanoTime() - nextOutboxPoll >= 0;
    }

    /** How long the publisher's thread may wait for envelopes before the next poll is due. */
    long waitNanos() {
        return Math.max(0, nextOutboxPoll - System.nanoTime());
    }

    /**
     * Lets PostgreSQL end this session, and with it the relay's turn, when this replica stops talking: frozen,
     * or cut off without a FIN. The relay polls at least once per outbox poll interval, so a live replica never
     * comes near these limits. Servers before PostgreSQL 14 lack idle_session_timeout; TCP keepalive still
     * covers a vanished host there.
     */
    void limitSession(Connection c) {
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

    /** Deletes and returns the next rows, in id order, in {@code c}'s open transaction; none without the turn. */
    List<Message> take(Connection c) throws SQLException {
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

    /** Stamps {@code rows} in order onto {@code envelopes}, each lost row as its announcement; call under the publish lock. */
    void stampInto(List<Message> rows, List<byte[]> envelopes) {
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
    }

    /** After a committed poll that relayed {@code relayed} rows: schedules the next, and gives up the turn when done. */
    void polled(Connection c, int relayed) throws SQLException {
        long now = System.nanoTime();
        if (relayed >= MAX_RELAY_ROWS) {
            nextOutboxPoll = now; // more are waiting
        } else if (now - kickedUntil < 0) {
            nextOutboxPoll = now + KICKED_POLL_NANOS;
        } else {
            nextOutboxPoll = now + outboxPollNanos;
        }
        if (myTurn && relayed < MAX_RELAY_ROWS && System.nanoTime() - kickedUntil >= 0) {
            releaseTurn(c);
        }
    }

    /** The publisher's connection was closed: the turn (a session lock) went with it. */
    void connectionClosed() {
        myTurn = false; // a session lock ends with its connection
        continueAfter = -1; // the batch it continued may have been rolled back
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
}

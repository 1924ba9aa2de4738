package dev.chorus.postgres;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.LeaseCalls;
import dev.chorus.leases.Lease;
import dev.chorus.leases.LeaseLostException;
import dev.chorus.leases.LeaseOwner;
import dev.chorus.leases.LeaseStoreException;
import dev.chorus.leases.Leases;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Invariants:
 *
 * - Every operation is one autocommit statement, atomic under the row lock of (cluster, key). A failed renew
 *   runs a second, read-only statement only to say why it failed. claimAll is one statement for its whole
 *   batch: every key of it is taken, or none.
 * - Expiry is judged by the database clock, now(): the start of the statement's transaction, which for an
 *   autocommit statement is the statement's start, and one value for the whole statement (clock_timestamp()
 *   would differ between the WHERE and the SET). A statement that waited for a row lock judges from before the
 *   wait, so it can only see the previous lease as alive longer, and it ends its own lease earlier: both err on
 *   the side of the previous holder.
 * - The local deadline is System.nanoTime() read before the statement is sent, plus the ttl. The statement
 *   starts after that, so the local deadline passes before the row's expires_at (clock rates being equal).
 * - Whoever takes a key from a previous holder draws its token with nextval() in the ON CONFLICT UPDATE, that
 *   is under the row lock and after the previous holder's statement committed, so a newer holder's token is
 *   always larger. Only the first insert of a key draws its token before it owns the row. Release therefore
 *   keeps the row (holder null, expired) instead of deleting it: with DELETE, a statement that drew a token,
 *   stalled, and inserted after a later holder released would hold a smaller token than its predecessor.
 *   Rows expired for longer than the retention are swept; a statement stalled that long is not a concern.
 */

/**
 * {@link Leases} in PostgreSQL: one row per key in the {@code leases} table, fencing tokens from the {@code
 * lease_tokens} sequence, expiry judged by the database clock.
 *
 * <pre>{@code
 * Leases leases = PostgresLeases.builder(database, replicaId).cluster("orders").build();
 * }</pre>
 *
 * <p>Statements run on virtual threads (or the injected executor) with connections from the database's pool;
 * a statement that fails completes the future with a {@link LeaseStoreException}. Call {@link
 * PostgresDatabase#ensureSchema()} before the first operation.
 */
public final class PostgresLeases implements Leases {

    /** The cluster whose keys this replica leases, unless set. */
    public static final String DEFAULT_CLUSTER = "chorus";
    /** How long one statement may take, network included, before it fails. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    /** How long an expired or released lease row stays before any replica deletes it. */
    public static final Duration DEFAULT_RETENTION = Duration.ofHours(1);
    /** The longest key accepted, in characters. */
    public static final int MAX_KEY_LENGTH = LeaseCalls.MAX_KEY_LENGTH;

    private static final Logger LOG = LoggerFactory.getLogger(PostgresLeases.class);
    private static final Duration LONGEST_SWEEP_INTERVAL = Duration.ofMinutes(1);

    private final PostgresDatabase database;
    private final ReplicaId self;
    private final String cluster;
    private final LeaseCalls calls;
    private final LongSupplier nanoTime;
    private final int timeoutMillis;
    private final long retentionMicros;
    private final long sweepIntervalNanos;
    private final AtomicLong nextSweep;

    private final String acquireSql;
    private final String claimSql;
    private final String claimAllSql;
    private final String renewSql;
    private final String renewAllSql;
    private final String explainSql;
    private final String releaseSql;
    private final String ownerSql;
    private final String sweepSql;

    private PostgresLeases(Builder builder) {
        this.database = builder.database;
        this.self = builder.self;
        this.cluster = builder.cluster;
        this.calls = new LeaseCalls(self, builder.executor, PostgresLeases::checkNoNul);
        this.nanoTime = builder.nanoTime;
        this.timeoutMillis = (int) Math.min(Integer.MAX_VALUE, builder.timeout.toMillis());
        this.retentionMicros = ceilMicros(builder.retention);
        this.sweepIntervalNanos = min(builder.retention, LONGEST_SWEEP_INTERVAL).toNanos();
        this.nextSweep = new AtomicLong(nanoTime.getAsLong());

        String leases = database.schema() + ".leases";
        String tokens = "nextval('" + database.schema() + ".lease_tokens')";
        String insert = "INSERT INTO " + leases + " AS l (cluster, key, holder, holder_name, token, expires_at)"
                + " VALUES (?, ?, ?, ?, " + tokens + ", now() + ? * interval '1 microsecond')"
                + " ON CONFLICT (cluster, key) DO UPDATE SET holder = excluded.holder,"
                + " holder_name = excluded.holder_name, expires_at = excluded.expires_at, token = ";
        // The same holder re-acquiring a live lease keeps its token; anyone taking a free key draws a new one.
        this.acquireSql = insert
                + "CASE WHEN l.holder = excluded.holder AND l.expires_at > now() THEN l.token ELSE " + tokens + " END"
                + " WHERE l.holder IS NULL OR l.holder = excluded.holder OR l.expires_at <= now()"
                + " RETURNING token";
        this.claimSql = insert + tokens + " RETURNING token";
        // The same takeover for a batch in one statement. Rows are locked in key order, so two batches that
        // share keys wait for each other instead of deadlocking.
        this.claimAllSql = "INSERT INTO " + leases + " AS l (cluster, key, holder, holder_name, token, expires_at)"
                + " SELECT ?, k, ?, ?, " + tokens + ", now() + ? * interval '1 microsecond'"
                + " FROM unnest(?::text[]) AS u(k) ORDER BY k"
                + " ON CONFLICT (cluster, key) DO UPDATE SET holder = excluded.holder,"
                + " holder_name = excluded.holder_name, expires_at = excluded.expires_at, token = " + tokens
                + " RETURNING key, token";
        this.renewSql = "UPDATE " + leases + " SET expires_at = now() + ? * interval '1 microsecond'"
                + " WHERE cluster = ? AND key = ? AND holder = ? AND token = ? AND expires_at > now()"
                + " RETURNING token";
        // A batch renewal locks its rows in key order, as claimAll does, so the two never deadlock. A row whose
        // token changed while this waited for its lock drops out (READ COMMITTED re-checks the WHERE).
        this.renewAllSql = "WITH held AS (SELECT l.key, u.ttl FROM " + leases + " AS l"
                + " JOIN unnest(?::text[], ?::bigint[], ?::bigint[]) AS u(k, t, ttl) ON l.key = u.k AND l.token = u.t"
                + " WHERE l.cluster = ? AND l.holder = ? AND l.expires_at > now() ORDER BY l.key FOR UPDATE OF l)"
                + " UPDATE " + leases + " AS l SET expires_at = now() + held.ttl * interval '1 microsecond' FROM held"
                + " WHERE l.cluster = ? AND l.key = held.key RETURNING l.key";
        this.explainSql = "SELECT holder, holder_name, token, expires_at > now() FROM " + leases
                + " WHERE cluster = ? AND key = ?";
        this.releaseSql = "UPDATE " + leases + " SET holder = NULL, holder_name = NULL,"
                + " expires_at = least(expires_at, now()) WHERE cluster = ? AND key = ? AND holder = ? AND token = ?";
        this.ownerSql = "SELECT holder, holder_name, token, expires_at FROM " + leases
                + " WHERE cluster = ? AND key = ? AND holder IS NOT NULL AND expires_at > now()";
        this.sweepSql =
                "DELETE FROM " + leases + " WHERE cluster = ? AND expires_at < now() - ? * interval '1 microsecond'";
    }

    /** A builder for {@code self}'s leases in {@code database}. */
    public static Builder builder(PostgresDatabase database, ReplicaId self) {
        return new Builder(database, self);
    }

    /** The cluster whose keys these leases are for. */
    public String cluster() {
        return cluster;
    }

    @Override
    public CompletableFuture<Optional<Lease>> tryAcquire(String key, Duration ttl) {
        return run("tryAcquire", key, ttl, connection -> {
            sweepIfDue();
            try (PreparedStatement statement = connection.prepareStatement(acquireSql)) {
                bindTake(statement, key, ttl);
                long sent = nanoTime.getAsLong();
                try (ResultSet row = statement.executeQuery()) {
                    return row.next() ? Optional.of(lease(key, row.getLong(1), ttl, sent)) : Optional.empty();
                }
            }
        });
    }

    @Override
    public CompletableFuture<Lease> claim(String key, Duration ttl) {
        return run("claim", key, ttl, connection -> {
            sweepIfDue();
            try (PreparedStatement statement = connection.prepareStatement(claimSql)) {
                bindTake(statement, key, ttl);
                long sent = nanoTime.getAsLong();
                try (ResultSet row = statement.executeQuery()) {
                    row.next();
                    return lease(key, row.getLong(1), ttl, sent);
                }
            }
        });
    }

    @Override
    public CompletableFuture<List<Lease>> claimAll(List<String> keys, Duration ttl) {
        List<String> batch = List.copyOf(keys);
        return calls.submitAll(
                "claimAll",
                batch,
                ttl,
                () -> execute("claimAll", batch.getFirst(), connection -> {
                    sweepIfDue();
                    try (PreparedStatement statement = connection.prepareStatement(claimAllSql)) {
                        statement.setString(1, cluster);
                        statement.setObject(2, self.uuid());
                        statement.setString(3, self.name());
                        statement.setLong(4, ceilMicros(ttl));
                        statement.setArray(5, connection.createArrayOf("text", batch.toArray()));
                        long sent = nanoTime.getAsLong();
                        Map<String, Long> tokens = new HashMap<>();
                        try (ResultSet row = statement.executeQuery()) {
                            while (row.next()) {
                                tokens.put(row.getString(1), row.getLong(2));
                            }
                        }
                        List<Lease> leases = new ArrayList<>(batch.size());
                        for (String key : batch) {
                            Long token = tokens.get(key);
                            if (token == null) {
                                throw new SQLException("the batch claim returned no row for '" + key + "'");
                            }
                            leases.add(lease(key, token, ttl, sent));
                        }
                        return leases;
                    }
                }));
    }

    @Override
    public CompletableFuture<Lease> renew(Lease lease) {
        return run("renew", lease, connection -> {
            try (PreparedStatement statement = connection.prepareStatement(renewSql)) {
                statement.setLong(1, ceilMicros(lease.ttl()));
                statement.setString(2, cluster);
                statement.setString(3, lease.key());
                statement.setObject(4, self.uuid());
                statement.setLong(5, lease.token());
                long sent = nanoTime.getAsLong();
                try (ResultSet row = statement.executeQuery()) {
                    if (row.next()) {
                        return lease(lease.key(), lease.token(), lease.ttl(), sent);
                    }
                }
            }
            throw new LeaseLostException(lease.key(), lease.token(), whyLost(connection, lease));
        });
    }

    @Override
    public CompletableFuture<List<Optional<Lease>>> renewAll(List<Lease> leases) {
        List<Lease> batch = List.copyOf(leases);
        return calls.submitAll(
                "renewAll",
                batch,
                () -> execute("renewAll", batch.getFirst().key(), connection -> {
                    try (PreparedStatement statement = connection.prepareStatement(renewAllSql)) {
                        Object[] keys = new Object[batch.size()];
                        Object[] tokens = new Object[batch.size()];
                        Object[] ttls = new Object[batch.size()];
                        for (int i = 0; i < batch.size(); i++) {
                            keys[i] = batch.get(i).key();
                            tokens[i] = batch.get(i).token();
                            ttls[i] = ceilMicros(batch.get(i).ttl());
                        }
                        statement.setArray(1, connection.createArrayOf("text", keys));
                        statement.setArray(2, connection.createArrayOf("bigint", tokens));
                        statement.setArray(3, connection.createArrayOf("bigint", ttls));
                        statement.setString(4, cluster);
                        statement.setObject(5, self.uuid());
                        statement.setString(6, cluster);
                        long sent = nanoTime.getAsLong();
                        java.util.Set<String> renewed = new java.util.HashSet<>();
                        try (ResultSet row = statement.executeQuery()) {
                            while (row.next()) {
                                renewed.add(row.getString(1));
                            }
                        }
                        List<Optional<Lease>> result = new ArrayList<>(batch.size());
                        for (Lease lease : batch) {
                            result.add(
                                    renewed.contains(lease.key())
                                            ? Optional.of(lease(lease.key(), lease.token(), lease.ttl(), sent))
                                            : Optional.empty());
                        }
                        return result;
                    }
                }));
    }

    @Override
    public CompletableFuture<Void> release(Lease lease) {
        return run("release", lease, connection -> {
            try (PreparedStatement statement = connection.prepareStatement(releaseSql)) {
                statement.setString(1, cluster);
                statement.setString(2, lease.key());
                statement.setObject(3, self.uuid());
                statement.setLong(4, lease.token());
                statement.executeUpdate();
                return null;
            }
        });
    }

    @Override
    public CompletableFuture<Optional<LeaseOwner>> owner(String key) {
        return run("owner", key, null, connection -> {
            try (PreparedStatement statement = connection.prepareStatement(ownerSql)) {
                statement.setString(1, cluster);
                statement.setString(2, key);
                try (ResultSet row = statement.executeQuery()) {
                    if (!row.next()) {
                        return Optional.empty();
                    }
                    ReplicaId holder = replica(row.getObject(1, UUID.class), row.getString(2));
                    return Optional.of(new LeaseOwner(
                            key,
                            holder,
                            row.getLong(3),
                            row.getObject(4, OffsetDateTime.class).toInstant()));
                }
            }
        });
    }

    /** Refuses further operations; leases held stay until released or expired. Idempotent. */
    @Override
    public void close() {
        calls.close();
    }

    @Override
    public String toString() {
        return "PostgresLeases{" + self.shortForm() + " cluster=" + cluster + " on " + database.describe() + "}";
    }

    private void bindTake(PreparedStatement statement, String key, Duration ttl) throws SQLException {
        statement.setString(1, cluster);
        statement.setString(2, key);
        statement.setObject(3, self.uuid());
        statement.setString(4, self.name());
        statement.setLong(5, ceilMicros(ttl));
    }

    private Lease lease(String key, long token, Duration ttl, long sentNanos) {
        return new Lease(key, self, token, ttl, sentNanos + ttl.toNanos(), nanoTime);
    }

    private String whyLost(Connection connection, Lease lease) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(explainSql)) {
            statement.setString(1, cluster);
            statement.setString(2, lease.key());
            try (ResultSet row = statement.executeQuery()) {
                if (!row.next()) {
                    return "it was released or never held";
                }
                UUID holder = row.getObject(1, UUID.class);
                long token = row.getLong(3);
                if (token != lease.token()) {
                    return holder == null
                            ? "taken over with token " + token + " (since released)"
                            : "taken over by "
                                    + replica(holder, row.getString(2)).shortForm() + " with token " + token;
                }
                return holder == null ? "it was released" : "it expired before the renewal";
            }
        }
    }

    private void sweepIfDue() {
        long now = nanoTime.getAsLong();
        long due = nextSweep.get();
        if (now - due >= 0 && nextSweep.compareAndSet(due, now + sweepIntervalNanos)) {
            try {
                calls.executor().execute(this::sweep);
            } catch (RejectedExecutionException e) {
                LOG.debug("Lease sweep not started: {}", FailureLog.describe(e));
            }
        }
    }

    private void sweep() {
        try (Connection connection = database.connection();
                PreparedStatement statement = connection.prepareStatement(sweepSql)) {
            connection.setNetworkTimeout(Runnable::run, timeoutMillis);
            statement.setString(1, cluster);
            statement.setLong(2, retentionMicros);
            int removed = statement.executeUpdate();
            if (removed > 0) {
                LOG.debug("Deleted {} lease rows of cluster '{}' that ended long ago", removed, cluster);
            }
        } catch (SQLException | RuntimeException e) {
            // The next sweep retries; a failing database shows in the lease operations themselves.
            LOG.debug("Sweeping old lease rows of cluster '{}' failed: {}", cluster, FailureLog.describe(e));
        }
    }

    private <T> CompletableFuture<T> run(String operation, Lease lease, Statement<T> statement) {
        return calls.submit(operation, lease, () -> execute(operation, lease.key(), statement));
    }

    private <T> CompletableFuture<T> run(String operation, String key, @Nullable Duration ttl, Statement<T> statement) {
        return calls.submit(operation, key, ttl, () -> execute(operation, key, statement));
    }

    private <T> T execute(String operation, String key, Statement<T> statement) {
        try (Connection connection = database.connection()) {
            // A half-open connection must fail the operation, not hang it.
            connection.setNetworkTimeout(Runnable::run, timeoutMillis);
            return statement.run(connection);
        } catch (SQLException e) {
            throw new LeaseStoreException(
                    operation,
                    key,
                    "Lease " + operation + " of '" + key + "' in cluster '" + cluster + "' failed on "
                            + database.describe() + ": " + FailureLog.describe(e),
                    e);
        }
    }

    private static ReplicaId replica(UUID id, @Nullable String name) {
        try {
            return ReplicaId.of(id, name);
        } catch (ChorusException e) {
            // A name this version would not accept (written by hand, or by another version): keep the id.
            return ReplicaId.of(id, null);
        }
    }

    private static void checkNoNul(String key) {
        if (key.indexOf('\0') >= 0) {
            throw new ChorusException("Lease key must not contain the NUL character (PostgreSQL text cannot hold it)");
        }
    }

    private static long ceilMicros(Duration duration) {
        long nanos = duration.toNanos();
        return nanos / 1_000 + (nanos % 1_000 == 0 ? 0 : 1);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** One lease operation's SQL on a pooled connection. */
    @FunctionalInterface
    private interface Statement<T> {
        T run(Connection connection) throws SQLException;
    }

    /** Builds {@link PostgresLeases}. */
    public static final class Builder {
        private final PostgresDatabase database;
        private final ReplicaId self;
        private String cluster = DEFAULT_CLUSTER;
        private @Nullable Executor executor;
        private LongSupplier nanoTime = System::nanoTime;
        private Duration timeout = DEFAULT_TIMEOUT;
        private Duration retention = DEFAULT_RETENTION;

        private Builder(PostgresDatabase database, ReplicaId self) {
            this.database = Objects.requireNonNull(database, "database");
            this.self = Objects.requireNonNull(self, "self");
        }

        /** The cluster whose keys to lease; replicas of one deployment share it. {@value #DEFAULT_CLUSTER} unless set. */
        public Builder cluster(String cluster) {
            Objects.requireNonNull(cluster, "cluster");
            if (cluster.isBlank() || cluster.length() > 128) {
                throw new ChorusException("Lease cluster must be 1 to 128 characters and not blank, was '" + cluster
                        + "' (for example 'chorus')");
            }
            this.cluster = cluster;
            return this;
        }

        /** Runs the statements; a new virtual thread per statement unless set. Not shut down by {@code close()}. */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /** The monotonic clock lease deadlines are measured on; {@code System::nanoTime} unless set. */
        public Builder nanoTime(LongSupplier nanoTime) {
            this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
            return this;
        }

        /** How long one statement may take before it fails; 10 s unless set. */
        public Builder timeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.toMillis() < 1) {
                throw new ChorusException("Lease timeout must be at least 1ms, was " + timeout + " (for example 10s)");
            }
            this.timeout = timeout;
            return this;
        }

        /**
         * How long a released or expired row stays before any replica deletes it; 1 hour unless set. Keep it far
         * above the longest a statement can take: a takeover must find the previous holder's row.
         */
        public Builder retention(Duration retention) {
            Objects.requireNonNull(retention, "retention");
            if (retention.isNegative() || retention.isZero()) {
                throw new ChorusException("Lease retention must be positive, was " + retention + " (for example 1h)");
            }
            this.retention = retention;
            return this;
        }

        /** The leases; nothing connects until the first operation. */
        public PostgresLeases build() {
            return new PostgresLeases(this);
        }
    }
}

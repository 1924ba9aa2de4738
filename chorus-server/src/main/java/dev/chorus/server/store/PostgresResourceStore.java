package dev.chorus.server.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.chorus.ChorusException;
import dev.chorus.Secrets;
import dev.chorus.health.Health;
import dev.chorus.postgres.PostgresDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.jspecify.annotations.Nullable;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Resources in PostgreSQL, shared by every replica: each write is one transaction that locks the key's row, checks
 * the precondition, writes, runs the caller's {@link TransactionHook} and commits.
 *
 * <p>At start it opens its own connection pool ({@code chorus-storage}) and applies the migrations in {@code
 * db/migration/server} with Flyway, one replica at a time. It fails start, naming the URL
 * with its password masked, when the database cannot be reached or migrated: a server without its storage has
 * nothing to serve. Afterwards a background check keeps {@link #health()} current without blocking callers.
 *
 * <p>Rows are never deleted: a deleted resource leaves a tombstone (body NULL) that keeps its last version, so a
 * resource created again continues counting and entity tags never repeat for one key.
 */
public final class PostgresResourceStore implements ResourceStore {

    /** Default schema for the resources table and Flyway's history table. */
    public static final String DEFAULT_SCHEMA = "chorus_server";
    /** Default number of pooled connections. */
    public static final int DEFAULT_POOL_SIZE = 10;
    /** Default wait for a connection, at start and for every request. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Default time between two health checks. */
    public static final Duration DEFAULT_HEALTH_INTERVAL = Duration.ofSeconds(2);
    /** Where the migrations live on the classpath. */
    public static final String MIGRATIONS = "classpath:db/migration/server";

    /** A statement that gets no answer for this long is on a dead link; fail it rather than hang a request. */
    static final Duration SOCKET_TIMEOUT = Duration.ofSeconds(30);

    private static final Logger LOG = LoggerFactory.getLogger(PostgresResourceStore.class);
    private static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
    private static final String POOL_NAME = "chorus-storage";
    /** Rows are never removed, so a lost insert race means the row is there on the next look. */
    private static final int WRITE_ATTEMPTS = 3;
    /** Arbitrary constant ("csrv"): with the schema name's hash, the advisory lock replicas migrate under. */
    private static final int MIGRATION_LOCK = 0x63737276;

    private final String maskedUrl;
    private final String schema;
    private final HikariDataSource pool;
    private final Duration healthInterval;
    private final Duration connectTimeout;
    private final String selectSql;
    private final String lockSql;
    private final String insertSql;
    private final String updateSql;
    private final String tombstoneSql;
    private final CountDownLatch stopping = new CountDownLatch(1);
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread checker;
    private volatile Health health;
    private volatile UnaryOperator<Connection> transactions = UnaryOperator.identity();

    private PostgresResourceStore(Builder builder, HikariDataSource pool) {
        this.maskedUrl = builder.maskedUrl;
        this.schema = builder.schema;
        this.pool = pool;
        this.healthInterval = builder.healthInterval;
        this.connectTimeout = builder.connectTimeout;
        String table = schema + ".resources";
        String where = " WHERE tenant = ? AND type = ? AND id = ?";
        this.selectSql = "SELECT version, body, updated FROM " + table + where + " AND body IS NOT NULL";
        this.lockSql = "SELECT version, body, updated FROM " + table + where + " FOR UPDATE";
        // clock_timestamp(), not now(): now() is when the transaction began, which may be before a writer that
        // held the row lock committed, and versions must not go back in time.
        this.insertSql = "INSERT INTO " + table + " (tenant, type, id, version, body, updated)"
                + " VALUES (?, ?, ?, 1, ?, clock_timestamp()) ON CONFLICT DO NOTHING RETURNING version, updated";
        this.updateSql = "UPDATE " + table + " SET version = version + 1, body = ?, updated = clock_timestamp()" + where
                + " RETURNING version, updated";
        this.tombstoneSql = "UPDATE " + table + " SET body = NULL, updated = clock_timestamp()" + where;
        this.health = healthy();
        this.checker = Thread.ofVirtual().name(POOL_NAME + "-health").unstarted(this::checkLoop);
    }

    /**
     * Starts building a store on {@code url}: {@code postgres://user:pass@host:5432/db?sslmode=require}, {@code
     * postgresql://...} or {@code jdbc:postgresql://host:5432/db?user=u&password=p}, parsed as {@link
     * PostgresDatabase#builder(String)} parses it.
     *
     * @throws ChorusException naming the URL (password masked) and what is wrong with it
     */
    public static Builder builder(String url) {
        return new Builder(url);
    }

    @Override
    public String kind() {
        return "postgres";
    }

    @Override
    public boolean transactional() {
        return true;
    }

    /**
     * Passes the connection of every write transaction through {@code wrap} before using it: given {@code
     * PostgresBackplane::withOutbox}, the cache invalidation a write publishes in its transaction is sent
     * with its COMMIT instead of in a round trip of its own. Set it before the store takes writes.
     */
    public void wrapTransactions(UnaryOperator<Connection> wrap) {
        this.transactions = Objects.requireNonNull(wrap, "wrap");
    }

    /** The schema holding the resources table. */
    public String schema() {
        return schema;
    }

    @Override
    public Optional<Resource> get(ResourceKey key) {
        Objects.requireNonNull(key, "key");
        checkOpen("get", key);
        try (Connection connection = pool.getConnection();
                PreparedStatement statement = connection.prepareStatement(selectSql)) {
            bindKey(statement, 1, key);
            try (ResultSet row = statement.executeQuery()) {
                return row.next()
                        ? Optional.of(new Resource(key, row.getLong(1), row.getBytes(2), instant(row, 3)))
                        : Optional.empty();
            }
        } catch (SQLException e) {
            throw failure("get", key, e);
        }
    }

    @Override
    public Resource put(ResourceKey key, byte[] body, Precondition precondition, TransactionHook hook) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(body, "body");
        Objects.requireNonNull(precondition, "precondition");
        Objects.requireNonNull(hook, "hook");
        checkOpen("put", key);
        return inTransaction("put", key, connection -> {
            for (int attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
                Row row = lock(connection, key);
                Preconditions.check(key, precondition, row == null ? null : row.resource(key));
                Resource written = row == null ? insert(connection, key, body) : update(connection, key, body);
                if (written != null) {
                    runHook("put", key, hook, connection);
                    return written;
                }
                // A concurrent writer created the row between our look and our insert, and has committed
                // (the insert waited for it): look again, now holding its lock, and decide again.
            }
            throw new SQLException("the row kept appearing and disappearing during " + WRITE_ATTEMPTS
                    + " attempts; is something deleting rows of " + schema + ".resources?");
        });
    }

    @Override
    public Optional<Resource> delete(ResourceKey key, Precondition precondition, TransactionHook hook) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(precondition, "precondition");
        Objects.requireNonNull(hook, "hook");
        checkOpen("delete", key);
        return inTransaction("delete", key, connection -> {
            Row row = lock(connection, key);
            Resource current = row == null ? null : row.resource(key);
            Preconditions.check(key, precondition, current);
            if (current == null) {
                // Nothing changed, so there is nothing for the hook to announce.
                return Optional.empty();
            }
            try (PreparedStatement statement = connection.prepareStatement(tombstoneSql)) {
                bindKey(statement, 1, key);
                statement.executeUpdate();
            }
            runHook("delete", key, hook, connection);
            return Optional.of(current);
        });
    }

    /**
     * Healthy with details {@code kind} and {@code url} (password masked) when the last background {@code SELECT 1}
     * worked, down with its error otherwise. Never touches the network.
     */
    @Override
    public Health health() {
        return health;
    }

    /** Stops the health check and closes the pool; idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        stopping.countDown();
        // Interrupting also ends a check waiting for a connection, so close never waits for the connect timeout.
        checker.interrupt();
        try {
            if (!checker.join(connectTimeout.plusSeconds(1))) {
                LOG.warn("The storage health check on {} did not stop; closing the pool anyway", maskedUrl);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pool.close();
        health = details(Health.down("the resource store is closed"));
        LOG.info("Closed the PostgreSQL resource store on {}", maskedUrl);
    }

    @Override
    public String toString() {
        return "PostgresResourceStore{" + maskedUrl + " schema " + schema + "}";
    }

    /** One transaction's work; it may throw anything, and whatever it throws rolls the transaction back. */
    @FunctionalInterface
    private interface Work<T> {
        T run(Connection connection) throws SQLException;
    }

    /** The locked row of a key: its version and its body, null for a tombstone. */
    private record Row(long version, byte @Nullable [] body, Instant updated) {

        @Nullable
        Resource resource(ResourceKey key) {
            return body == null ? null : new Resource(key, version, body, updated);
        }
    }

    private <T> T inTransaction(String operation, ResourceKey key, Work<T> work) {
        try (Connection pooled = pool.getConnection();
                Connection connection = transactions.apply(pooled)) {
            // The pool resets auto-commit when the connection returns, even if this transaction broke it.
            connection.setAutoCommit(false);
            T result;
            try {
                result = work.run(connection);
            } catch (Throwable failure) {
                rollback(connection, failure);
                throw failure;
            }
            try {
                connection.commit();
            } catch (SQLException e) {
                rollback(connection, e);
                // A link that broke during the COMMIT may have broken after the server committed: nobody can
                // tell from here. A refused commit (a serialization failure) is known not to have happened.
                throw failure(operation, key, e, linkBroke(e));
            }
            return result;
        } catch (StorageUnavailableException e) {
            throw e;
        } catch (SQLException e) {
            throw failure(operation, key, e);
        }
    }

    private static void rollback(Connection connection, Throwable cause) {
        try {
            connection.rollback();
        } catch (SQLException e) {
            // The link is gone, so the server rolls back by itself; report the first failure.
            cause.addSuppressed(e);
        }
    }

    private @Nullable Row lock(Connection connection, ResourceKey key) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(lockSql)) {
            bindKey(statement, 1, key);
            try (ResultSet row = statement.executeQuery()) {
                return row.next() ? new Row(row.getLong(1), row.getBytes(2), instant(row, 3)) : null;
            }
        }
    }

    /** The new resource, or null when a concurrent writer created the key first. */
    private @Nullable Resource insert(Connection connection, ResourceKey key, byte[] body) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(insertSql)) {
            bindKey(statement, 1, key);
            statement.setBytes(4, body);
            try (ResultSet row = statement.executeQuery()) {
                return row.next() ? new Resource(key, row.getLong(1), body, instant(row, 2)) : null;
            }
        }
    }

    private Resource update(Connection connection, ResourceKey key, byte[] body) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(updateSql)) {
            statement.setBytes(1, body);
            bindKey(statement, 2, key);
            try (ResultSet row = statement.executeQuery()) {
                if (!row.next()) {
                    throw new SQLException(
                            "the locked row is missing; is something deleting rows of " + schema + ".resources?");
                }
                return new Resource(key, row.getLong(1), body, instant(row, 2));
            }
        }
    }

    private static void runHook(String operation, ResourceKey key, TransactionHook hook, Connection connection) {
        try {
            hook.beforeCommit(connection);
        } catch (SQLException e) {
            throw new ChorusException(
                    "Could not " + operation + " resource " + describe(key)
                            + ": its transaction hook failed, so nothing was written: " + e.getMessage(),
                    e);
        }
    }

    private static void bindKey(PreparedStatement statement, int first, ResourceKey key) throws SQLException {
        statement.setString(first, key.tenant());
        statement.setString(first + 1, key.type());
        statement.setString(first + 2, key.id());
    }

    private static Instant instant(ResultSet row, int column) throws SQLException {
        return row.getObject(column, OffsetDateTime.class).toInstant();
    }

    private void checkOpen(String operation, ResourceKey key) {
        if (closed.get()) {
            throw new ChorusException("Cannot " + operation + " resource " + describe(key)
                    + ": the PostgreSQL resource store on " + maskedUrl + " is closed");
        }
    }

    private ChorusException failure(String operation, ResourceKey key, SQLException e) {
        return failure(operation, key, e, false);
    }

    /*
     * Storage that cannot be reached, has no connection to spare, is shutting down or asks for a retry is a
     * 503 the client can retry: connection errors (SQLState class 08), the pool's timeout (a transient
     * connection exception), too many connections or other resource limits (53), an administrator's
     * shutdown (57P01-57P03), serialization failures and deadlocks (40). Anything else is a fault of ours.
     */
    private static boolean isUnavailable(SQLException e) {
        if (e instanceof java.sql.SQLTransientConnectionException || e instanceof java.sql.SQLRecoverableException) {
            return true;
        }
        String state = e.getSQLState();
        return state != null
                && (state.startsWith("08")
                        || state.startsWith("53")
                        || state.startsWith("40")
                        || state.startsWith("57P"));
    }

    private static boolean linkBroke(SQLException e) {
        String state = e.getSQLState();
        return e instanceof java.sql.SQLRecoverableException || state == null || state.startsWith("08");
    }

    private ChorusException failure(String operation, ResourceKey key, SQLException e, boolean outcomeUnknown) {
        if (isUnavailable(e)) {
            return new StorageUnavailableException(
                    "Could not " + operation + " resource " + describe(key) + " in PostgreSQL at " + maskedUrl
                            + " (unavailable, the client may retry): " + e.getMessage(),
                    outcomeUnknown,
                    e);
        }
        return new ChorusException(
                "Could not " + operation + " resource " + describe(key) + " in PostgreSQL at " + maskedUrl + ": "
                        + e.getMessage(),
                e);
    }

    private static String describe(ResourceKey key) {
        return key.type() + "/" + key.id() + " of tenant '" + key.tenant() + "'";
    }

    private void checkLoop() {
        try {
            while (!stopping.await(healthInterval.toMillis(), TimeUnit.MILLISECONDS)) {
                Health next = check();
                Health previous = health;
                if (closed.get()) {
                    return;
                }
                health = next;
                if (previous.isHealthy() && !next.isHealthy()) {
                    LOG.warn("Resource storage is down: {}", next.reason());
                } else if (!previous.isHealthy() && next.isHealthy()) {
                    LOG.info("Resource storage can reach PostgreSQL at {} again", maskedUrl);
                }
            }
        } catch (InterruptedException e) {
            // close() interrupts to stop the loop.
        }
    }

    private Health check() {
        try {
            selectOne();
        } catch (SQLException | RuntimeException first) {
            // A pooled connection can be dead while the database is fine (a restart, a failover, an idle link cut
            // by a firewall); the pool has dropped it now, so only a second failure on a fresh one means down.
            try {
                selectOne();
            } catch (SQLException | RuntimeException e) {
                return details(Health.down("cannot reach PostgreSQL at " + maskedUrl + ": " + e.getMessage()));
            }
        }
        return healthy();
    }

    private void selectOne() throws SQLException {
        try (Connection connection = pool.getConnection();
                Statement statement = connection.createStatement()) {
            statement.setQueryTimeout(Math.toIntExact(Math.max(1, connectTimeout.toSeconds())));
            statement.execute("SELECT 1");
        }
    }

    private Health healthy() {
        return details(Health.healthy());
    }

    private Health details(Health base) {
        return base.withDetail("kind", kind()).withDetail("url", maskedUrl).withDetail("schema", schema);
    }

    /** Builds a {@link PostgresResourceStore}; {@link #build()} connects and migrates. */
    public static final class Builder {
        private final String maskedUrl;
        private final PostgresDatabase.Builder parsed;
        private String schema = DEFAULT_SCHEMA;
        private int poolSize = DEFAULT_POOL_SIZE;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private Duration healthInterval = DEFAULT_HEALTH_INTERVAL;

        private Builder(String url) {
            Objects.requireNonNull(url, "url");
            this.maskedUrl = Secrets.maskUrl(url);
            this.parsed = PostgresDatabase.builder(url);
        }

        /**
         * The schema for the resources table and Flyway's history table, {@value
         * PostgresResourceStore#DEFAULT_SCHEMA} by default; created at start when missing.
         */
        public Builder schema(String schema) {
            Objects.requireNonNull(schema, "schema");
            if (!IDENTIFIER.matcher(schema).matches()) {
                throw new ChorusException("Invalid storage schema '" + schema + "': use lower-case letters, digits"
                        + " and _, starting with a letter or _, at most 63 characters (for example '"
                        + DEFAULT_SCHEMA + "')");
            }
            this.schema = schema;
            return this;
        }

        /** Connections in the pool, {@value PostgresResourceStore#DEFAULT_POOL_SIZE} by default; at least 1. */
        public Builder poolSize(int poolSize) {
            if (poolSize < 1) {
                throw new ChorusException("Storage pool size must be at least 1, was " + poolSize);
            }
            this.poolSize = poolSize;
            return this;
        }

        /**
         * How long to wait for a connection, at start and for every request, {@code PT5S} by default; at least
         * 250 ms.
         */
        public Builder connectTimeout(Duration connectTimeout) {
            Objects.requireNonNull(connectTimeout, "connectTimeout");
            if (connectTimeout.toMillis() < 250) {
                throw new ChorusException(
                        "Storage connect timeout must be at least 250 ms (the pool's minimum), was " + connectTimeout);
            }
            this.connectTimeout = connectTimeout;
            return this;
        }

        /** Time between two health checks, {@code PT2S} by default. */
        public Builder healthInterval(Duration healthInterval) {
            Objects.requireNonNull(healthInterval, "healthInterval");
            if (healthInterval.isNegative() || healthInterval.isZero()) {
                throw new ChorusException("Storage health interval must be positive, was " + healthInterval);
            }
            this.healthInterval = healthInterval;
            return this;
        }

        /**
         * Connects, applies the migrations and starts the health check.
         *
         * @throws ChorusException naming the masked URL and what to check, when the database cannot be reached or
         *     migrated
         */
        public PostgresResourceStore build() {
            String jdbcUrl;
            String user;
            String password;
            // PostgresDatabase owns the URL grammar; its pool connects lazily and is closed before it starts.
            try (PostgresDatabase database = parsed.manageSchema(false).build()) {
                jdbcUrl = database.jdbcUrl();
                user = database.user();
                password = database.password();
            }
            HikariDataSource pool = openPool(jdbcUrl, user, password);
            try {
                migrate(jdbcUrl, user, password);
            } catch (RuntimeException e) {
                pool.close();
                throw e;
            }
            PostgresResourceStore store = new PostgresResourceStore(this, pool);
            store.checker.start();
            return store;
        }

        private HikariDataSource openPool(String jdbcUrl, String user, @Nullable String password) {
            HikariConfig config = new HikariConfig();
            config.setPoolName(POOL_NAME);
            config.setJdbcUrl(jdbcUrl);
            config.setUsername(user);
            if (password != null) {
                config.setPassword(password);
            }
            config.setMaximumPoolSize(poolSize);
            config.setConnectionTimeout(connectTimeout.toMillis());
            // Try one connection now and fail start if it does not come: a replica without its storage would
            // only answer 503s, and a failed start is what makes an orchestrator say so.
            config.setInitializationFailTimeout(1);
            config.addDataSourceProperty("connectTimeout", Integer.toString(connectSeconds()));
            config.addDataSourceProperty("loginTimeout", Integer.toString(connectSeconds()));
            config.addDataSourceProperty("socketTimeout", Long.toString(SOCKET_TIMEOUT.toSeconds()));
            config.addDataSourceProperty("tcpKeepAlive", "true");
            config.addDataSourceProperty("ApplicationName", POOL_NAME);
            try {
                return new HikariDataSource(config);
            } catch (RuntimeException e) {
                throw new ChorusException(
                        "Cannot start the PostgreSQL resource store: no connection to " + maskedUrl + " within "
                                + connectTimeout + " (" + rootMessage(e) + "). Check that PostgreSQL is running and"
                                + " reachable from this host at that host and port, that the database exists, and"
                                + " that the user and password are right",
                        e);
            }
        }

        /**
         * Applies the migrations, one replica at a time. Flyway serialises the migrations themselves on an
         * advisory lock, but creates a missing schema and its history table around that lock and settles races
         * there by failing and retrying every second, up to ten times. Holding a lock of our own for the whole run
         * makes replicas that start together simply take turns; the ones after the first find nothing to do. The
         * lock is a session lock, so it goes away with its connection if this process dies.
         *
         * <p>Migrations use connections of their own, without the pool's socket timeout: a future migration may
         * rewrite a large table, and a replica waiting for the lock waits as long as that takes.
         */
        private void migrate(String jdbcUrl, String user, @Nullable String password) {
            PGSimpleDataSource direct = new PGSimpleDataSource();
            direct.setURL(jdbcUrl);
            direct.setUser(user);
            direct.setPassword(password);
            int connectSeconds = connectSeconds();
            direct.setConnectTimeout(connectSeconds);
            direct.setLoginTimeout(connectSeconds);
            direct.setTcpKeepAlive(true);
            direct.setApplicationName(POOL_NAME + "-migrate");
            try (Connection lock = direct.getConnection()) {
                try (PreparedStatement take = lock.prepareStatement("SELECT pg_advisory_lock(?, hashtext(?))")) {
                    take.setInt(1, MIGRATION_LOCK);
                    take.setString(2, schema);
                    take.executeQuery().close();
                }
                MigrateResult result = Flyway.configure(PostgresResourceStore.class.getClassLoader())
                        .dataSource(direct)
                        // The first schema is where Flyway keeps its history table; it creates the schema if missing.
                        .schemas(schema)
                        .defaultSchema(schema)
                        .locations(MIGRATIONS)
                        .load()
                        .migrate();
                LOG.info(
                        "Resource storage on {}: schema {} at version {} ({} migration(s) applied now), pool of {}",
                        maskedUrl,
                        schema,
                        result.targetSchemaVersion == null ? "unchanged" : result.targetSchemaVersion,
                        result.migrationsExecuted,
                        poolSize);
                // Closing the connection releases the lock too; unlocking first just frees it a round trip sooner.
                try (PreparedStatement release = lock.prepareStatement("SELECT pg_advisory_unlock(?, hashtext(?))")) {
                    release.setInt(1, MIGRATION_LOCK);
                    release.setString(2, schema);
                    release.executeQuery().close();
                }
            } catch (SQLException | RuntimeException e) {
                throw new ChorusException(
                        "Cannot start the PostgreSQL resource store: migrating schema '" + schema + "' on " + maskedUrl
                                + " failed: " + e.getMessage() + ". Check that the user may create the schema and"
                                + " its tables (or create them beforehand and grant them), and that "
                                + schema + ".flyway_schema_history was not changed by hand",
                        e);
            }
        }

        private int connectSeconds() {
            return Math.toIntExact(Math.max(1, connectTimeout.toSeconds()));
        }

        private static String rootMessage(Throwable failure) {
            Throwable root = failure;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            return root.getMessage() == null ? root.toString() : root.getMessage();
        }
    }
}

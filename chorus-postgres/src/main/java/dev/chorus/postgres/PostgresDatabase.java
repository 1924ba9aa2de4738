package dev.chorus.postgres;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.chorus.ChorusException;
import dev.chorus.Secrets;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One PostgreSQL database as Chorus uses it: where it is (parsed from {@code DATABASE_URL} in any of its
 * forms), a small connection pool for Chorus's own statements, and the schema holding Chorus's tables.
 *
 * <p>Shared by the backplane, membership and leases of a replica; close it after them.
 */
public final class PostgresDatabase implements AutoCloseable {

    /** Default schema for Chorus's tables. */
    public static final String DEFAULT_SCHEMA = "chorus";
    /** Default size of the pool for Chorus's own statements (heartbeats, leases, outbox relay, spills). */
    public static final int DEFAULT_POOL_SIZE = 4;

    /** Chorus's statements are short; one that gets no answer for this long is on a dead link. */
    static final Duration SOCKET_TIMEOUT = Duration.ofSeconds(15);

    private static final Logger LOG = LoggerFactory.getLogger(PostgresDatabase.class);
    private static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
    /** Arbitrary constant: the advisory lock every replica takes while creating the schema. */
    private static final long SCHEMA_LOCK = 0x43686f7275735f31L;

    private final String host;
    private final int port;
    private final String database;
    private final String user;
    private final @Nullable String password;
    private final Map<String, String> parameters;
    private final String schema;
    private final int poolSize;
    private final boolean manageSchema;

    /** Set once ensureSchema succeeded: the backplane, its publisher and the server each ask at start. */
    private volatile boolean schemaInPlace;

    private final HikariDataSource pool;
    private final AtomicBoolean closed = new AtomicBoolean();

    private PostgresDatabase(Builder builder) {
        this.host = builder.host;
        this.port = builder.port;
        this.database = builder.database;
        this.user = builder.user;
        this.password = builder.password;
        this.parameters = Map.copyOf(builder.parameters);
        this.schema = builder.schema;
        this.poolSize = builder.poolSize;
        this.manageSchema = builder.manageSchema;
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl());
        config.setUsername(user);
        if (password != null) {
            config.setPassword(password);
        }
        config.setMaximumPoolSize(poolSize);
        config.setMinimumIdle(1);
        config.setPoolName("chorus-postgres");
        config.setConnectionTimeout(builder.connectTimeout.toMillis());
        // Start even while the database is down: the backplane reports DEGRADED and keeps retrying.
        config.setInitializationFailTimeout(-1);
        config.addDataSourceProperty("ApplicationName", "chorus");
        config.addDataSourceProperty("tcpKeepAlive", "true");
        config.addDataSourceProperty("socketTimeout", Long.toString(SOCKET_TIMEOUT.toSeconds()));
        this.pool = new HikariDataSource(config);
    }

    /**
     * Parses {@code url}: {@code postgres://user:pass@host:5432/db?sslmode=require}, {@code postgresql://...}
     * or {@code jdbc:postgresql://host:5432/db?user=u&password=p}.
     *
     * @throws ChorusException naming the URL (password masked) and what is wrong with it
     */
    public static Builder builder(String url) {
        return new Builder(url);
    }

    /** The server host. */
    public String host() {
        return host;
    }

    /** The server port. */
    public int port() {
        return port;
    }

    /** The database name. */
    public String database() {
        return database;
    }

    /** The user Chorus connects as. */
    public String user() {
        return user;
    }

    /** The password, or null; never log it. */
    public @Nullable String password() {
        return password;
    }

    /** Extra connection parameters from the URL (for example {@code sslmode}). */
    public Map<String, String> parameters() {
        return parameters;
    }

    /** The schema holding Chorus's tables. */
    public String schema() {
        return schema;
    }

    /** A pgjdbc URL without user and password (they go in separately). */
    public String jdbcUrl() {
        StringBuilder url = new StringBuilder("jdbc:postgresql://")
                .append(host.contains(":") ? "[" + host + "]" : host)
                .append(':')
                .append(port)
                .append('/')
                .append(database);
        char separator = '?';
        for (Map.Entry<String, String> parameter : parameters.entrySet()) {
            url.append(separator).append(parameter.getKey()).append('=').append(parameter.getValue());
            separator = '&';
        }
        return url.toString();
    }

    /** Where Chorus connects, safe to log. */
    public String describe() {
        return "postgresql://" + user + (password == null ? "" : ":****") + "@" + host + ":" + port + "/" + database
                + " schema " + schema;
    }

    /** The pool for Chorus's own short statements. */
    public DataSource dataSource() {
        return pool;
    }

    /** A pooled connection; close it to return it. */
    public Connection connection() throws SQLException {
        return pool.getConnection();
    }

    /**
     * A new connection outside the pool, for a long-lived dedicated use (the publisher). The caller closes
     * it.
     */
    public Connection dedicatedConnection() throws SQLException {
        java.util.Properties properties = new java.util.Properties();
        properties.setProperty("user", user);
        if (password != null) {
            properties.setProperty("password", password);
        }
        properties.setProperty("ApplicationName", "chorus");
        properties.setProperty("tcpKeepAlive", "true");
        // A frozen link must fail a statement, not hang the thread that sends it forever.
        properties.setProperty("socketTimeout", Long.toString(SOCKET_TIMEOUT.toSeconds()));
        return java.sql.DriverManager.getConnection(jdbcUrl(), properties);
    }

    /** The SQL that creates Chorus's tables in {@code schema}, as shipped in {@code schema.sql}. */
    public static String schemaSql(String schema) {
        checkIdentifier("schema", schema);
        try (InputStream in = PostgresDatabase.class.getResourceAsStream("schema.sql")) {
            if (in == null) {
                throw new IllegalStateException("schema.sql is missing from the chorus-postgres jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("${schema}", schema);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read schema.sql", e);
        }
    }

    /**
     * Creates the schema and tables if they are missing, under an advisory lock so that replicas starting
     * together do not race. Idempotent: once it has succeeded, later calls on this database return at once.
     * Does nothing when the builder said {@code manageSchema(false)}.
     */
    public void ensureSchema() throws SQLException {
        if (!manageSchema || schemaInPlace) {
            return;
        }
        String sql = schemaSql(schema);
        try (Connection connection = connection()) {
            boolean autoCommit = connection.getAutoCommit();
            connection.setAutoCommit(false);
            try (Statement statement = connection.createStatement()) {
                statement.execute("SELECT pg_advisory_xact_lock(" + SCHEMA_LOCK + ")");
                statement.execute(sql);
                connection.commit();
            } catch (SQLException e) {
                connection.rollback();
                throw e;
            } finally {
                connection.setAutoCommit(autoCommit);
            }
        }
        schemaInPlace = true;
        LOG.debug("Chorus schema '{}' is in place on {}", schema, describe());
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed.get();
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            pool.close();
        }
    }

    @Override
    public String toString() {
        return "PostgresDatabase{" + describe() + "}";
    }

    static String checkIdentifier(String what, String value) {
        if (!IDENTIFIER.matcher(value).matches()) {
            throw new ChorusException("Invalid PostgreSQL " + what + " '" + value + "': use lower-case letters,"
                    + " digits and _, starting with a letter or _, at most 63 characters (for example 'chorus')");
        }
        return value;
    }

    /** Builds a {@link PostgresDatabase}. */
    public static final class Builder {
        private final String host;
        private final int port;
        private final String database;
        private final String user;
        private final @Nullable String password;
        private final Map<String, String> parameters = new LinkedHashMap<>();
        private String schema = DEFAULT_SCHEMA;
        private int poolSize = DEFAULT_POOL_SIZE;
        private Duration connectTimeout = Duration.ofSeconds(5);
        private boolean manageSchema = true;

        private Builder(String url) {
            Objects.requireNonNull(url, "url");
            String masked = Secrets.maskUrl(url);
            String rest;
            String lower = url.toLowerCase(Locale.ROOT);
            if (lower.startsWith("jdbc:postgresql://")) {
                rest = url.substring("jdbc:".length());
            } else if (lower.startsWith("postgres://") || lower.startsWith("postgresql://")) {
                rest = url;
            } else {
                throw new ChorusException("Database URL '" + masked + "' must start with postgres://, postgresql://"
                        + " or jdbc:postgresql:// (for example postgres://chorus:secret@db.internal:5432/chorus)");
            }
            URI uri;
            try {
                uri = URI.create(rest);
            } catch (IllegalArgumentException e) {
                throw new ChorusException("Database URL '" + masked + "' is not a valid URL: " + e.getMessage(), e);
            }
            if (uri.getHost() == null) {
                throw new ChorusException("Database URL '" + masked + "' has no host (for example"
                        + " postgres://chorus:secret@db.internal:5432/chorus)");
            }
            this.host = uri.getHost().startsWith("[")
                    ? uri.getHost().substring(1, uri.getHost().length() - 1)
                    : uri.getHost();
            this.port = uri.getPort() < 0 ? 5432 : uri.getPort();
            String path = uri.getPath() == null ? "" : uri.getPath();
            this.database = path.length() > 1 ? decode(path.substring(1)) : "postgres";
            String userInfoUser = null;
            String userInfoPassword = null;
            if (uri.getRawUserInfo() != null) {
                String[] parts = uri.getRawUserInfo().split(":", 2);
                userInfoUser = decode(parts[0]);
                userInfoPassword = parts.length > 1 ? decode(parts[1]) : null;
            }
            String queryUser = null;
            String queryPassword = null;
            if (uri.getRawQuery() != null) {
                for (String pair : uri.getRawQuery().split("&")) {
                    if (pair.isEmpty()) {
                        continue;
                    }
                    String[] kv = pair.split("=", 2);
                    String key = decode(kv[0]);
                    String value = kv.length > 1 ? decode(kv[1]) : "";
                    switch (key) {
                        case "user" -> queryUser = value;
                        case "password" -> queryPassword = value;
                        default -> parameters.put(key, value);
                    }
                }
            }
            String chosenUser = userInfoUser != null && !userInfoUser.isEmpty() ? userInfoUser : queryUser;
            this.user = chosenUser == null || chosenUser.isEmpty() ? "postgres" : chosenUser;
            String chosenPassword = userInfoPassword != null ? userInfoPassword : queryPassword;
            this.password = chosenPassword == null || chosenPassword.isEmpty() ? null : chosenPassword;
        }

        private static String decode(String value) {
            return URLDecoder.decode(value, StandardCharsets.UTF_8);
        }

        /** The schema for Chorus's tables; lower-case identifier, {@value #DEFAULT_SCHEMA} by default. */
        public Builder schema(String schema) {
            this.schema = checkIdentifier("schema", schema);
            return this;
        }

        /** Connections in Chorus's own pool, {@value #DEFAULT_POOL_SIZE} by default. */
        public Builder poolSize(int poolSize) {
            if (poolSize < 2) {
                throw new ChorusException("Pool size must be at least 2, was " + poolSize);
            }
            this.poolSize = poolSize;
            return this;
        }

        /**
         * Whether Chorus creates its tables at start (the default). Turn it off when you run {@link
         * PostgresDatabase#schemaSql(String)} (the shipped {@code schema.sql}) with your own migrations.
         */
        public Builder manageSchema(boolean manageSchema) {
            this.manageSchema = manageSchema;
            return this;
        }

        /** How long to wait for a connection. */
        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
            return this;
        }

        /** The database handle; the pool connects lazily, so this succeeds while the server is down. */
        public PostgresDatabase build() {
            return new PostgresDatabase(this);
        }
    }
}

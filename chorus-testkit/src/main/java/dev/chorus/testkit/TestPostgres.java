package dev.chorus.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.postgresql.Driver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server for tests, resolved once per JVM; isolate each test with {@link #newSchema(String)}.
 *
 * <p>Resolution order: {@code CHORUS_TEST_POSTGRES_URL} (a JDBC URL with {@code user} and {@code password}
 * parameters), then {@code jdbc:postgresql://127.0.0.1:5432/test} as user {@code postgres} if it answers within two
 * seconds, then an embedded server. {@code CHORUS_TEST_EMBEDDED=true} forces the embedded server.
 */
public sealed class TestPostgres permits TestPostgres.Embedded {

    /** System property or environment variable holding the JDBC URL of a server to use. */
    public static final String URL_KEY = "CHORUS_TEST_POSTGRES_URL";

    static final String LOCAL_URL = "jdbc:postgresql://127.0.0.1:5432/test?user=postgres";
    static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

    private static final Logger LOG = LoggerFactory.getLogger(TestPostgres.class);
    private static final Set<String> URL_PARTS = Set.of("PGHOST", "PGPORT", "PGDBNAME", "user", "password");
    private static final Object SHARED_LOCK = new Object();
    private static volatile @Nullable TestPostgres shared;

    private final ServerSource source;
    private final String host;
    private final int port;
    private final String database;
    private final String user;
    private final String password;
    private final Map<String, String> extraParameters;

    private TestPostgres(
            ServerSource source,
            String host,
            int port,
            String database,
            String user,
            String password,
            Map<String, String> extraParameters) {
        this.source = source;
        this.host = host;
        this.port = port;
        this.database = database;
        this.user = user;
        this.password = password;
        this.extraParameters = Map.copyOf(extraParameters);
    }

    /** The server shared by every test in this JVM, resolved on first use. */
    public static TestPostgres server() {
        TestPostgres server = shared;
        if (server == null) {
            synchronized (SHARED_LOCK) {
                server = shared;
                if (server == null) {
                    server = resolve(TestEnvironment.SYSTEM);
                    shared = server;
                }
            }
        }
        return server;
    }

    /**
     * Starts a new embedded server owned by the caller, independent of {@link #server()}. Close it to stop it; a
     * shutdown hook stops it at JVM exit otherwise.
     */
    public static Embedded startEmbedded() {
        long started = System.nanoTime();
        EmbeddedPostgres postgres;
        try {
            postgres = EmbeddedPostgres.builder()
                    // Fault tests point proxies at 127.0.0.1; never let "localhost" pick ::1 instead.
                    .setServerConfig("listen_addresses", "127.0.0.1")
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("could not start embedded PostgreSQL", e);
        }
        Embedded embedded = new Embedded(postgres);
        LOG.info(
                "Started embedded PostgreSQL {} in {} ms",
                embedded,
                Duration.ofNanos(System.nanoTime() - started).toMillis());
        return embedded;
    }

    static TestPostgres resolve(Function<String, @Nullable String> lookup) {
        if (TestEnvironment.forceEmbedded(lookup)) {
            LOG.info("PostgreSQL for tests: embedded, because {}=true", TestEnvironment.EMBEDDED_KEY);
            return startEmbedded();
        }
        String configured = lookup.apply(URL_KEY);
        if (configured != null) {
            TestPostgres server = fromUrl(ServerSource.CONFIGURED, configured);
            String failure = server.probe();
            if (failure != null) {
                throw new IllegalStateException(
                        URL_KEY + "=" + mask(configured) + " is set but the server does not answer: " + failure);
            }
            LOG.info("PostgreSQL for tests: {}, from {}", server, URL_KEY);
            return server;
        }
        TestPostgres local = fromUrl(ServerSource.LOCAL, LOCAL_URL);
        String failure = local.probe();
        if (failure == null) {
            LOG.info("PostgreSQL for tests: {}, because {} is not set and the local server answered", local, URL_KEY);
            return local;
        }
        LOG.info(
                "PostgreSQL for tests: embedded, because {} is not set and {} did not answer ({})",
                URL_KEY,
                mask(LOCAL_URL),
                failure);
        return startEmbedded();
    }

    static TestPostgres fromUrl(ServerSource source, String jdbcUrl) {
        Properties parsed = Driver.parseURL(jdbcUrl, null);
        if (parsed == null) {
            throw new IllegalArgumentException("not a PostgreSQL JDBC URL: " + mask(jdbcUrl));
        }
        Map<String, String> extra = new LinkedHashMap<>();
        for (String name : parsed.stringPropertyNames()) {
            if (!URL_PARTS.contains(name)) {
                extra.put(name, parsed.getProperty(name));
            }
        }
        String database = parsed.getProperty("PGDBNAME", "");
        return new TestPostgres(
                source,
                parsed.getProperty("PGHOST", "localhost"),
                Integer.parseInt(parsed.getProperty("PGPORT", "5432")),
                database.isEmpty() ? "postgres" : database,
                parsed.getProperty("user", "postgres"),
                parsed.getProperty("password", ""),
                extra);
    }

    /** Replaces the value of every {@code password=} parameter, so URLs can be logged. */
    static String mask(String jdbcUrl) {
        return jdbcUrl.replaceAll("(?i)(password=)[^&]*", "$1***");
    }

    /** Where this server came from. */
    public ServerSource source() {
        return source;
    }

    /** A self-contained JDBC URL: it carries {@code user} and {@code password}; never log it, log the server. */
    public String jdbcUrl() {
        return jdbcUrl(Map.of());
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    public String database() {
        return database;
    }

    public String user() {
        return user;
    }

    /** The password, empty when the server trusts local connections. */
    public String password() {
        return password;
    }

    /** Opens a connection to {@link #database()}; the caller closes it. */
    public Connection connect() throws SQLException {
        return DriverManager.getConnection(jdbcUrl());
    }

    /** Creates an empty schema that only the calling test uses; closing it drops everything in it. */
    public Schema newSchema(String hint) {
        for (int attempt = 1; ; attempt++) {
            String suffix = TestEnvironment.randomSuffix();
            String name = "t_" + TestEnvironment.sanitize(hint, 40) + "_" + suffix;
            try (Connection connection = connect();
                    Statement statement = connection.createStatement()) {
                // The name is [a-z0-9_] only, so concatenation cannot inject anything.
                statement.execute("CREATE SCHEMA " + name);
                return new Schema(this, name, suffix);
            } catch (SQLException e) {
                boolean duplicate = "42P06".equals(e.getSQLState());
                if (!duplicate || attempt == 3) {
                    throw new IllegalStateException("could not create schema " + name + " on " + this, e);
                }
            }
        }
    }

    /**
     * Creates an empty database that only the calling test uses, for code that works on a whole database (its
     * default schemas included); closing it drops the database. Needs a user allowed to create databases.
     */
    public Database newDatabase(String hint) {
        for (int attempt = 1; ; attempt++) {
            String name = "t_" + TestEnvironment.sanitize(hint, 40) + "_" + TestEnvironment.randomSuffix();
            try (Connection connection = connect();
                    Statement statement = connection.createStatement()) {
                // The name is [a-z0-9_] only, so concatenation cannot inject anything.
                statement.execute("CREATE DATABASE " + name);
                return new Database(new TestPostgres(source, host, port, name, user, password, extraParameters), this);
            } catch (SQLException e) {
                boolean duplicate = "42P04".equals(e.getSQLState());
                if (!duplicate || attempt == 3) {
                    throw new IllegalStateException("could not create database " + name + " on " + this, e);
                }
            }
        }
    }

    @Override
    public String toString() {
        return source + " postgresql://" + hostAndPort() + "/" + database + " as " + user
                + (password.isEmpty() ? "" : " (password ***)");
    }

    private String jdbcUrl(Map<String, String> overrides) {
        Map<String, String> parameters = new LinkedHashMap<>();
        parameters.put("user", user);
        if (!password.isEmpty()) {
            parameters.put("password", password);
        }
        parameters.putAll(extraParameters);
        parameters.putAll(overrides);
        StringBuilder url = new StringBuilder("jdbc:postgresql://")
                .append(hostAndPort())
                .append('/')
                .append(URLEncoder.encode(database, UTF_8));
        char separator = '?';
        for (Map.Entry<String, String> parameter : parameters.entrySet()) {
            url.append(separator)
                    .append(parameter.getKey())
                    .append('=')
                    .append(URLEncoder.encode(parameter.getValue(), UTF_8));
            separator = '&';
        }
        return url.toString();
    }

    private String hostAndPort() {
        boolean ipv6 = host.contains(":") && !host.startsWith("[");
        return (ipv6 ? "[" + host + "]" : host) + ":" + port;
    }

    /** Returns why the server cannot be used, or null if it answered a query. */
    private @Nullable String probe() {
        Properties timeouts = new Properties();
        String seconds = Long.toString(PROBE_TIMEOUT.toSeconds());
        timeouts.setProperty("connectTimeout", seconds);
        timeouts.setProperty("loginTimeout", seconds);
        timeouts.setProperty("socketTimeout", seconds);
        try (Connection connection = DriverManager.getConnection(jdbcUrl(), timeouts);
                Statement statement = connection.createStatement();
                ResultSet result = statement.executeQuery("SELECT 1")) {
            return result.next() ? null : "SELECT 1 returned no row";
        } catch (SQLException e) {
            return e.getMessage();
        }
    }

    /** An embedded PostgreSQL server owned by whoever started it. */
    public static final class Embedded extends TestPostgres implements AutoCloseable {

        private final EmbeddedPostgres postgres;

        private Embedded(EmbeddedPostgres postgres) {
            super(ServerSource.EMBEDDED, "127.0.0.1", postgres.getPort(), "postgres", "postgres", "", Map.of());
            this.postgres = postgres;
        }

        /** Stops the server and deletes its data directory; idempotent. */
        @Override
        public void close() {
            try {
                postgres.close();
            } catch (IOException e) {
                throw new UncheckedIOException("could not stop embedded PostgreSQL " + this, e);
            }
        }
    }

    /** A schema private to one test; its {@link #jdbcUrl()} makes it the default for unqualified names. */
    public static final class Schema implements AutoCloseable {

        private final TestPostgres server;
        private final String name;
        private final String suffix;
        private final AtomicInteger channels = new AtomicInteger();
        private final AtomicBoolean closed = new AtomicBoolean();

        private Schema(TestPostgres server, String name, String suffix) {
            this.server = server;
            this.name = name;
            this.suffix = suffix;
        }

        /** The schema name: lower case, a valid unquoted identifier. */
        public String name() {
            return name;
        }

        public TestPostgres server() {
            return server;
        }

        /** The server's JDBC URL with {@code currentSchema} set to this schema; carries credentials. */
        public String jdbcUrl() {
            return server.jdbcUrl(Map.of("currentSchema", name));
        }

        /** Opens a connection whose search path is this schema; the caller closes it. */
        public Connection connect() throws SQLException {
            return DriverManager.getConnection(jdbcUrl());
        }

        /**
         * A LISTEN/NOTIFY channel name no other test uses: lower case, a valid unquoted identifier, and different on
         * every call.
         */
        public String uniqueChannel(String hint) {
            return "c_" + TestEnvironment.sanitize(hint, 30) + "_" + suffix + "_" + channels.incrementAndGet();
        }

        /** Drops the schema and everything in it; idempotent. */
        @Override
        public void close() {
            if (closed.getAndSet(true)) {
                return;
            }
            try (Connection connection = server.connect();
                    Statement statement = connection.createStatement()) {
                // A connection left in a transaction by the code under test must fail this test, not hang the build.
                statement.execute("SET lock_timeout = '10s'");
                statement.execute("DROP SCHEMA IF EXISTS " + name + " CASCADE");
            } catch (SQLException e) {
                throw new IllegalStateException("could not drop schema " + name + " on " + server, e);
            }
        }

        @Override
        public String toString() {
            return name + " on " + server;
        }
    }

    /** A database private to one test; its {@link #server()} connects to it. */
    public static final class Database implements AutoCloseable {

        private final TestPostgres server;
        private final TestPostgres owner;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Database(TestPostgres server, TestPostgres owner) {
            this.server = server;
            this.owner = owner;
        }

        /** The database as a server of its own: {@link TestPostgres#jdbcUrl()} and friends point at it. */
        public TestPostgres server() {
            return server;
        }

        /** The database name: lower case, a valid unquoted identifier. */
        public String name() {
            return server.database();
        }

        /** Drops the database, ending any session still on it; idempotent. */
        @Override
        public void close() {
            if (closed.getAndSet(true)) {
                return;
            }
            try (Connection connection = owner.connect();
                    Statement statement = connection.createStatement()) {
                // A replica that has not yet let go of its pool must not keep the database alive (PostgreSQL 13+).
                statement.execute("DROP DATABASE IF EXISTS " + name() + " WITH (FORCE)");
            } catch (SQLException e) {
                throw new IllegalStateException("could not drop database " + name() + " on " + owner, e);
            }
        }

        @Override
        public String toString() {
            return server.toString();
        }
    }
}

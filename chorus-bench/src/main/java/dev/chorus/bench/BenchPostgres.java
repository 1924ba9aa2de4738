package dev.chorus.bench;

import dev.chorus.ReplicaId;
import dev.chorus.Secrets;
import dev.chorus.postgres.PostgresBackplane;
import dev.chorus.postgres.PostgresDatabase;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.SslMode;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * The PostgreSQL server the {@code postgres-*} scenarios run against ({@code -Dchorus.bench.postgres=URL}),
 * with one scenario's throwaway schema {@code bench_<random>} on it, dropped on close.
 */
final class BenchPostgres implements AutoCloseable {

    /** System property naming the server, in any form {@link PostgresDatabase#builder} accepts. */
    static final String PROPERTY = "chorus.bench.postgres";

    static final String DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/test";

    private static final int CONNECT_TIMEOUT_SECONDS = 5;

    private final Target target;
    private final String schema;
    private int channels;

    /** Where the server is, taken apart once. */
    private record Target(
            String url,
            String masked,
            String jdbcUrl,
            String host,
            int port,
            String database,
            String user,
            @Nullable String password,
            @Nullable String sslMode) {

        static Target parse(String url) {
            // PostgresDatabase parses every URL form Chorus accepts; its pool starts lazily and is closed unused.
            try (PostgresDatabase parsed = PostgresDatabase.builder(url).build()) {
                return new Target(
                        url,
                        Secrets.maskUrl(url),
                        parsed.jdbcUrl(),
                        parsed.host(),
                        parsed.port(),
                        parsed.database(),
                        parsed.user(),
                        parsed.password(),
                        parsed.parameters().get("sslmode"));
            }
        }
    }

    /** Thrown by {@link #open} when the server cannot be used; {@link #row} says so in the results. */
    static final class Unavailable extends Exception {
        private final String masked;

        Unavailable(String masked, String reason, @Nullable Throwable cause) {
            super(reason, cause);
            this.masked = masked;
        }

        /** The single row a scenario reports instead of its measurements. */
        ResultRow row(String scenario) {
            return new ResultRow(
                    scenario,
                    "skipped: no PostgreSQL at " + masked,
                    "–",
                    0,
                    0,
                    Double.NaN,
                    Double.NaN,
                    Double.NaN,
                    0,
                    getMessage() + " (set -D" + PROPERTY + "=postgres://user:pass@host:port/db)");
        }
    }

    private BenchPostgres(Target target, String schema) {
        this.target = target;
        this.schema = schema;
    }

    /** The configured server URL, {@value #DEFAULT_URL} unless {@code -Dchorus.bench.postgres} says otherwise. */
    static String configuredUrl() {
        return System.getProperty(PROPERTY, DEFAULT_URL);
    }

    /** Connects to the configured server and creates a fresh schema. */
    static BenchPostgres open() throws Unavailable {
        String url = configuredUrl();
        Target target;
        try {
            target = Target.parse(url);
        } catch (RuntimeException e) {
            throw new Unavailable(Secrets.maskUrl(url), "invalid URL: " + e.getMessage(), e);
        }
        String schema = "bench_" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36);
        try (Connection c = connect(target);
                Statement statement = c.createStatement()) {
            statement.execute("CREATE SCHEMA " + schema);
        } catch (SQLException e) {
            throw new Unavailable(target.masked(), e.getMessage(), e);
        }
        return new BenchPostgres(target, schema);
    }

    /** Why the configured server cannot be used, or null when it can; for tests that need it. */
    static @Nullable String unavailableReason() {
        try (BenchPostgres ignored = open()) {
            return null;
        } catch (Unavailable e) {
            return "no PostgreSQL at " + e.masked + ": " + e.getMessage();
        }
    }

    /** This scenario's schema. */
    String schema() {
        return schema;
    }

    /** A channel no other run uses: the schema name and a counter. */
    String uniqueChannel(String hint) {
        return schema + "_" + hint + "_" + ++channels;
    }

    /** A new pgjdbc connection in auto-commit mode; the caller closes it. */
    Connection connect() throws SQLException {
        return connect(target);
    }

    private static Connection connect(Target target) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", target.user());
        if (target.password() != null) {
            properties.setProperty("password", target.password());
        }
        properties.setProperty("ApplicationName", "chorus-bench");
        properties.setProperty("connectTimeout", Integer.toString(CONNECT_TIMEOUT_SECONDS));
        return DriverManager.getConnection(target.jdbcUrl(), properties);
    }

    /** Runs one statement on a fresh auto-commit connection. */
    void execute(String sql) throws SQLException {
        try (Connection c = connect();
                Statement statement = c.createStatement()) {
            statement.execute(sql);
        }
    }

    /** Where vertx-pg-client connects, as {@code NotificationListener} sets it up. */
    PgConnectOptions listenOptions() {
        PgConnectOptions options = new PgConnectOptions()
                .setHost(target.host())
                .setPort(target.port())
                .setDatabase(target.database())
                .setUser(target.user())
                .setPipeliningLimit(1)
                .setProperties(Map.of("application_name", "chorus-bench-listener"));
        if (target.password() != null) {
            options.setPassword(target.password());
        }
        if (target.sslMode() != null) {
            options.setSslMode(
                    SslMode.of(target.sslMode().toLowerCase(Locale.ROOT).replace('_', '-')));
        }
        return options;
    }

    /**
     * A replica with its own {@link PostgresDatabase} on this schema and {@code channel}, default timings
     * (what users get) unless {@code tweak} changes them. Close it to close both.
     */
    Replica replica(String name, String channel, UnaryOperator<PostgresBackplane.Builder> tweak) {
        PostgresDatabase database = PostgresDatabase.builder(target.url())
                .schema(schema)
                .poolSize(2)
                .build();
        try {
            PostgresBackplane backplane = tweak.apply(PostgresBackplane.builder(database)
                            .replica(ReplicaId.random(name))
                            .channel(channel)
                            .secret(BenchSecret.SECRET))
                    .build();
            return new Replica(database, backplane);
        } catch (RuntimeException e) {
            database.close();
            throw e;
        }
    }

    /** Drops the schema and everything in it. */
    @Override
    public void close() {
        try {
            execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        } catch (SQLException e) {
            System.err.println("Could not drop benchmark schema " + schema + ": " + e.getMessage());
        }
    }

    /** One Chorus replica: a backplane and the database handle it alone uses. */
    record Replica(PostgresDatabase database, PostgresBackplane backplane) implements BenchReplica {
        @Override
        public void close() {
            backplane.close();
            database.close();
        }
    }
}

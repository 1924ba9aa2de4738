package dev.chorus.postgres;

import dev.chorus.Backoff;
import dev.chorus.ReplicaId;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.TestPostgres;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * One test's PostgreSQL cluster: a fresh schema and channel, replicas with fast timings, optionally each
 * behind its own {@link FaultProxy}.
 */
final class PgTestCluster implements AutoCloseable {

    final TestPostgres.Schema schema;
    final String channel;
    private final List<AutoCloseable> resources = new ArrayList<>();

    PgTestCluster(String hint) {
        this.schema = TestPostgres.server().newSchema(hint);
        this.channel = schema.uniqueChannel("ch");
    }

    /** A database handle straight to the server. */
    PostgresDatabase database() {
        return database(schema.server().host(), schema.server().port());
    }

    /** A database handle to {@code host:port} (a proxy, usually) for this test's schema. */
    PostgresDatabase database(String host, int port) {
        TestPostgres server = schema.server();
        String password = server.password() == null ? "" : server.password();
        String url = "postgres://" + enc(server.user()) + (password.isEmpty() ? "" : ":" + enc(password)) + "@" + host
                + ":" + port + "/" + enc(server.database());
        PostgresDatabase db =
                PostgresDatabase.builder(url).schema(schema.name()).poolSize(3).build();
        resources.add(db);
        return db;
    }

    /** A FaultProxy in front of the server, closed with the cluster. */
    FaultProxy proxy() {
        FaultProxy proxy =
                FaultProxy.start(schema.server().host(), schema.server().port());
        resources.add(proxy);
        return proxy;
    }

    /** A replica with fast timings on {@code db}, on this test's channel unless changed. */
    PostgresBackplane replica(PostgresDatabase db, String name, UnaryOperator<PostgresBackplane.Builder> tweak) {
        PostgresBackplane backplane = tweak.apply(PostgresBackplane.builder(db)
                        .replica(ReplicaId.random(name))
                        .channel(channel)
                        .canary(Duration.ofMillis(300), Duration.ofSeconds(3))
                        .ping(Duration.ofMillis(300), Duration.ofSeconds(2))
                        .outboxPollInterval(Duration.ofMillis(200))
                        .backoff(new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1))))
                .build();
        resources.add(backplane);
        return backplane;
    }

    PostgresBackplane replica(String name) {
        return replica(database(), name, b -> b);
    }

    /** Sends a NOTIFY on this test's channel as someone other than Chorus would. */
    void rawNotify(String payload) throws Exception {
        try (Connection c = schema.connect();
                PreparedStatement statement = c.prepareStatement("SELECT pg_notify(?, ?)")) {
            statement.setString(1, channel);
            statement.setString(2, payload);
            statement.executeQuery().close();
        }
    }

    private static String enc(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
        schema.close();
    }
}

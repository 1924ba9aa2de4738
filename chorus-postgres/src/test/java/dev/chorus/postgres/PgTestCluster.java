package dev.chorus.postgres;

import dev.chorus.Backoff;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.TestPostgres;
import dev.chorus.testkit.TestSecrets;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
                        .secret(TestSecrets.SECRET)
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

    /**
     * A compatibility-kit cluster: every replica reaches PostgreSQL through its own proxy, so one can be cut
     * off, frozen or have its listening backend terminated alone.
     */
    static BackplaneCompatibilityKit.ClusterFixture fixture(String hint) {
        PgTestCluster cluster = new PgTestCluster(hint);
        Map<Backplane, FaultProxy> proxies = new IdentityHashMap<>();
        return new BackplaneCompatibilityKit.ClusterFixture() {
            private int count;

            @Override
            public Backplane join() {
                // Every replica reaches PostgreSQL through its own proxy, so one can be cut off alone.
                FaultProxy proxy = cluster.proxy();
                PostgresBackplane backplane =
                        cluster.replica(cluster.database(proxy.host(), proxy.port()), "r" + ++count, b -> b);
                proxies.put(backplane, proxy);
                return backplane;
            }

            @Override
            public Backplane joinOtherCluster() {
                return cluster.replica(
                        cluster.database(), "stranger", b -> b.channel(cluster.schema.uniqueChannel("other")));
            }

            @Override
            public Optional<dev.chorus.Secret> secret() {
                return Optional.of(TestSecrets.SECRET);
            }

            @Override
            public Optional<Backplane> joinAt(java.time.Clock clock) {
                return Optional.of(cluster.replica(cluster.database(), "r" + ++count, b -> b.clock(clock)));
            }

            @Override
            public Optional<BackplaneCompatibilityKit.RawInjector> injectRaw() {
                return Optional.of(bytes -> {
                    String text = new String(bytes, StandardCharsets.UTF_8);
                    boolean printable = text.chars().noneMatch(ch -> ch < 0x20) && !text.contains("\uFFFD");
                    // NOTIFY payloads are text: send text as a stranger would, binary as a corrupt envelope.
                    cluster.rawNotify(
                            printable ? text : "e" + Base64.getEncoder().encodeToString(bytes));
                });
            }

            @Override
            public Optional<BackplaneCompatibilityKit.Faults> faults() {
                return Optional.of(new BackplaneCompatibilityKit.Faults() {
                    @Override
                    public void disconnect(Backplane backplane) {
                        FaultProxy proxy = proxies.get(backplane);
                        proxy.refuse(true);
                        proxy.cut();
                    }

                    @Override
                    public void heal(Backplane backplane) {
                        proxies.get(backplane).heal();
                    }

                    @Override
                    public void freeze(Backplane backplane) {
                        proxies.get(backplane).freeze();
                    }

                    @Override
                    public void kill(Backplane backplane) throws Exception {
                        int pid = ((PostgresBackplane) backplane).listenerBackendPid();
                        try (Connection c = cluster.schema.connect();
                                PreparedStatement statement = c.prepareStatement("SELECT pg_terminate_backend(?)")) {
                            statement.setInt(1, pid);
                            statement.executeQuery().close();
                        }
                    }
                });
            }

            @Override
            public void close() throws Exception {
                cluster.close();
            }
        };
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

    /** Rows waiting in this test's outbox. */
    int outboxRows() throws Exception {
        try (Connection c = schema.connect();
                var rs = c.createStatement().executeQuery("SELECT count(*) FROM " + schema.name() + ".outbox")) {
            rs.next();
            return rs.getInt(1);
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

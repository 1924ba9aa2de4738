package dev.chorus.redis;

import dev.chorus.Backoff;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.internal.Frames;
import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.RespClient;
import dev.chorus.testkit.TestRedis;
import dev.chorus.testkit.TestSecrets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/** One test's Redis cluster: a fresh key prefix, replicas with fast timings, optionally behind a proxy. */
final class RedisTestCluster implements AutoCloseable {

    final TestRedis server;
    final TestRedis.Namespace namespace;
    final String prefix;
    private final List<AutoCloseable> resources = new ArrayList<>();

    RedisTestCluster(String hint) {
        this(TestRedis.server(), hint);
    }

    RedisTestCluster(TestRedis server, String hint) {
        this.server = server;
        // The prefix becomes the cluster name and must stay short; test names make long hints.
        this.namespace = server.newNamespace(hint.length() > 20 ? hint.substring(0, 20) : hint);
        this.prefix = namespace.prefix().substring(0, namespace.prefix().length() - 1);
    }

    RedisConnector connector() {
        return connector(server.host(), server.port(), prefix);
    }

    RedisConnector connector(String host, int port, String keyPrefix) {
        return connector(host, port, keyPrefix, null);
    }

    RedisConnector connector(String host, int port, String keyPrefix, @Nullable String clientName) {
        String query = clientName == null ? "" : "?clientName=" + clientName;
        RedisConnector connector = RedisConnector.builder("redis://" + host + ":" + port + query)
                .prefix(keyPrefix)
                .commandTimeout(Duration.ofSeconds(2))
                .build();
        resources.add(connector);
        return connector;
    }

    /**
     * A compatibility-kit cluster: every replica reaches Redis through its own proxy and under its own client
     * name, so one can be cut off, frozen or killed with {@code CLIENT KILL} alone.
     */
    static BackplaneCompatibilityKit.ClusterFixture fixture(String hint) {
        RedisTestCluster cluster = new RedisTestCluster(hint);
        Map<Backplane, FaultProxy> proxies = new IdentityHashMap<>();
        Map<Backplane, String> clientNames = new IdentityHashMap<>();
        return new BackplaneCompatibilityKit.ClusterFixture() {
            private int count;

            @Override
            public Backplane join() {
                FaultProxy proxy = cluster.proxy();
                String name = "r" + ++count;
                // A client name per replica lets kill() pick this replica's subscription out of CLIENT LIST.
                String clientName = cluster.prefix.replace(':', '-') + "-" + name;
                RedisBackplane backplane = cluster.replica(
                        cluster.connector(proxy.host(), proxy.port(), cluster.prefix, clientName), name, b -> b);
                proxies.put(backplane, proxy);
                clientNames.put(backplane, clientName);
                return backplane;
            }

            @Override
            public Backplane joinOtherCluster() {
                return cluster.replica(
                        cluster.connector(cluster.server.host(), cluster.server.port(), cluster.prefix + "-other"),
                        "stranger",
                        b -> b);
            }

            @Override
            public Optional<dev.chorus.Secret> secret() {
                return Optional.of(TestSecrets.SECRET);
            }

            @Override
            public Optional<Backplane> joinAt(java.time.Clock clock) {
                return Optional.of(cluster.replica(cluster.connector(), "r" + ++count, b -> b.clock(clock)));
            }

            @Override
            public Optional<BackplaneCompatibilityKit.RawInjector> injectRaw() {
                return Optional.of(bytes -> {
                    try (RespClient client = cluster.server.client()) {
                        client.send("PUBLISH".getBytes(), (cluster.prefix + ":bp").getBytes(), bytes);
                    }
                });
            }

            @Override
            public Optional<BackplaneCompatibilityKit.RawInjector> injectEnvelope() {
                return Optional.of(bytes -> {
                    try (RespClient client = cluster.server.client()) {
                        client.send(
                                "PUBLISH".getBytes(),
                                (cluster.prefix + ":bp").getBytes(),
                                Frames.pack(java.util.List.of(bytes)));
                    }
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
                    public void kill(Backplane backplane) {
                        String clientName = clientNames.get(backplane);
                        try (RespClient client = cluster.server.client()) {
                            String list = client.send("CLIENT", "LIST", "TYPE", "pubsub")
                                    .asString();
                            for (String line : list.split("\n")) {
                                if (line.contains(" name=" + clientName + " ")) {
                                    String id = line.substring(3, line.indexOf(' '));
                                    client.send("CLIENT", "KILL", "ID", id);
                                }
                            }
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

    /** Closes {@code resource} with the cluster, before the connectors it was built on. */
    <T extends AutoCloseable> T closeLater(T resource) {
        resources.add(resource);
        return resource;
    }

    FaultProxy proxy() {
        FaultProxy proxy = FaultProxy.start(server.host(), server.port());
        resources.add(proxy);
        return proxy;
    }

    RedisBackplane replica(RedisConnector connector, String name, UnaryOperator<RedisBackplane.Builder> tweak) {
        RedisBackplane backplane = tweak.apply(RedisBackplane.builder(connector)
                        .replica(ReplicaId.random(name))
                        .secret(TestSecrets.SECRET)
                        .canary(Duration.ofMillis(500), Duration.ofSeconds(2))
                        .ping(Duration.ofMillis(300), Duration.ofSeconds(1))
                        .backoff(new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1))))
                .build();
        resources.add(backplane);
        return backplane;
    }

    RedisBackplane replica(String name) {
        return replica(connector(), name, b -> b);
    }

    @Override
    public void close() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
        namespace.close();
    }
}

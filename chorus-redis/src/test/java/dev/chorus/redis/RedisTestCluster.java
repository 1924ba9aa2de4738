package dev.chorus.redis;

import dev.chorus.Backoff;
import dev.chorus.ReplicaId;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.TestRedis;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

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
        RedisConnector connector = RedisConnector.builder("redis://" + host + ":" + port)
                .prefix(keyPrefix)
                .commandTimeout(Duration.ofSeconds(2))
                .build();
        resources.add(connector);
        return connector;
    }

    FaultProxy proxy() {
        FaultProxy proxy = FaultProxy.start(server.host(), server.port());
        resources.add(proxy);
        return proxy;
    }

    RedisBackplane replica(RedisConnector connector, String name, UnaryOperator<RedisBackplane.Builder> tweak) {
        RedisBackplane backplane = tweak.apply(RedisBackplane.builder(connector)
                        .replica(ReplicaId.random(name))
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

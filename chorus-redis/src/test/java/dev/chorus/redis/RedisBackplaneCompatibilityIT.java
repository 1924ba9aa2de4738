package dev.chorus.redis;

import dev.chorus.backplane.Backplane;
import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.RespClient;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;

/** The Redis backplane passes the whole compatibility kit. */
class RedisBackplaneCompatibilityIT extends BackplaneCompatibilityKit {

    @Override
    protected ClusterFixture newCluster(String testName) {
        RedisTestCluster cluster = new RedisTestCluster("kit");
        Map<Backplane, FaultProxy> proxies = new IdentityHashMap<>();
        return new ClusterFixture() {
            private int count;

            @Override
            public Backplane join() {
                FaultProxy proxy = cluster.proxy();
                RedisBackplane backplane = cluster.replica(
                        cluster.connector(proxy.host(), proxy.port(), cluster.prefix), "r" + ++count, b -> b);
                proxies.put(backplane, proxy);
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
            public Optional<RawInjector> injectRaw() {
                return Optional.of(bytes -> {
                    try (RespClient client = cluster.server.client()) {
                        client.send("PUBLISH".getBytes(), (cluster.prefix + ":bp").getBytes(), bytes);
                    }
                });
            }

            @Override
            public Optional<Faults> faults() {
                return Optional.of(new Faults() {
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
                });
            }

            @Override
            public void close() throws Exception {
                cluster.close();
            }
        };
    }
}

package dev.chorus.redis;

import dev.chorus.backplane.Backplane;
import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.SessionsCompatibilityKit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Sessions and dispatch on Redis: backplane, leases and membership all on one server. */
class RedisSessionsIT extends SessionsCompatibilityKit {

    @Override
    protected Cluster newCluster(String testName) {
        RedisTestCluster cluster = new RedisTestCluster("sessions");
        Map<Backplane, FaultProxy> proxies = new IdentityHashMap<>();
        List<AutoCloseable> stores = new ArrayList<>();
        return new Cluster() {
            @Override
            public Replica join(String name) {
                // Backplane, leases and membership share one proxy, so one replica can lose its store alone.
                FaultProxy proxy = cluster.proxy();
                RedisConnector connector = cluster.connector(proxy.host(), proxy.port(), cluster.prefix);
                RedisBackplane backplane = cluster.replica(connector, name, b -> b);
                RedisLeases leases =
                        RedisLeases.builder(connector, backplane.replica()).build();
                RedisMembership membership = RedisMembership.builder(connector, backplane.replica())
                        .heartbeatInterval(Duration.ofMillis(200))
                        .expiry(Duration.ofSeconds(2))
                        .build();
                proxies.put(backplane, proxy);
                stores.add(leases);
                stores.add(membership);
                return new Replica(backplane, leases, membership);
            }

            @Override
            public Optional<BackplaneCompatibilityKit.Faults> faults() {
                return Optional.of(new BackplaneCompatibilityKit.Faults() {
                    @Override
                    public void disconnect(Backplane backplane) {
                        proxies.get(backplane).refuse(true);
                        proxies.get(backplane).cut();
                    }

                    @Override
                    public void heal(Backplane backplane) {
                        proxies.get(backplane).heal();
                    }
                });
            }

            @Override
            public void close() throws Exception {
                for (AutoCloseable store : stores) {
                    store.close();
                }
                cluster.close();
            }
        };
    }
}

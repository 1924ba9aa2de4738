package dev.chorus.postgres;

import dev.chorus.backplane.Backplane;
import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.FaultProxy;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;

/** The PostgreSQL backplane passes the whole compatibility kit. */
class PostgresBackplaneCompatibilityIT extends BackplaneCompatibilityKit {

    @Override
    protected ClusterFixture newCluster(String testName) {
        PgTestCluster cluster = new PgTestCluster("kit");
        Map<Backplane, FaultProxy> proxies = new IdentityHashMap<>();
        return new ClusterFixture() {
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
            public Optional<RawInjector> injectRaw() {
                return Optional.of(bytes -> {
                    String text = new String(bytes, StandardCharsets.UTF_8);
                    boolean printable = text.chars().noneMatch(ch -> ch < 0x20) && !text.contains("\uFFFD");
                    // NOTIFY payloads are text: send text as a stranger would, binary as a corrupt envelope.
                    cluster.rawNotify(
                            printable ? text : "e" + Base64.getEncoder().encodeToString(bytes));
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

package dev.chorus.testkit;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.local.LocalCluster;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/** The in-process transport passes the whole compatibility kit. */
class InProcessBackplaneCompatibilityTest extends BackplaneCompatibilityKit {

    @Override
    protected ClusterFixture newCluster(String testName) {
        LocalCluster cluster = LocalCluster.create("kit");
        LocalCluster other = LocalCluster.create("kit_other");
        AtomicInteger counter = new AtomicInteger();
        List<ReplicaId> replicas = new ArrayList<>();
        return new ClusterFixture() {
            @Override
            public Backplane join() {
                ReplicaId id = ReplicaId.random("r" + counter.incrementAndGet());
                replicas.add(id);
                return cluster.join(id).backplane();
            }

            @Override
            public Backplane joinOtherCluster() {
                return other.join(ReplicaId.random("stranger")).backplane();
            }

            @Override
            public Optional<RawInjector> injectRaw() {
                return Optional.of(bytes -> replicas.forEach(id -> cluster.inject(id, bytes)));
            }

            @Override
            public Optional<Faults> faults() {
                return Optional.of(new Faults() {
                    @Override
                    public void disconnect(Backplane backplane) {
                        cluster.isolate(backplane.replica());
                    }

                    @Override
                    public void heal(Backplane backplane) {
                        cluster.heal(backplane.replica());
                    }
                });
            }

            @Override
            public void close() {
                cluster.backplanes().forEach(Backplane::close);
                other.backplanes().forEach(Backplane::close);
            }
        };
    }
}

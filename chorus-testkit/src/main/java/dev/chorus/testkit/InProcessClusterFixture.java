package dev.chorus.testkit;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.local.LocalCluster;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/** A compatibility-kit cluster on the in-process transport, whose faults are {@link LocalCluster}'s. */
public final class InProcessClusterFixture implements BackplaneCompatibilityKit.ClusterFixture {

    private final LocalCluster cluster;
    private final LocalCluster other;
    private final AtomicInteger counter = new AtomicInteger();
    private final List<ReplicaId> replicas = new ArrayList<>();

    /** A fresh pair of local clusters: the one under test and a stranger with another name. */
    public InProcessClusterFixture(String name) {
        this.cluster = LocalCluster.create(name);
        this.other = LocalCluster.create(name + "_other");
    }

    /** The local cluster, for tests that need its other fault controls. */
    public LocalCluster cluster() {
        return cluster;
    }

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
    public Optional<BackplaneCompatibilityKit.RawInjector> injectRaw() {
        return Optional.of(bytes -> replicas.forEach(id -> cluster.inject(id, bytes)));
    }

    @Override
    public Optional<BackplaneCompatibilityKit.Faults> faults() {
        return Optional.of(new BackplaneCompatibilityKit.Faults() {
            @Override
            public void disconnect(Backplane backplane) {
                cluster.isolate(backplane.replica());
            }

            @Override
            public void heal(Backplane backplane) {
                cluster.heal(backplane.replica());
            }

            // An isolated in-process replica is exactly a frozen one: nothing flows, nothing closes.
            @Override
            public void freeze(Backplane backplane) {
                cluster.isolate(backplane.replica());
            }
        });
    }

    @Override
    public void close() {
        cluster.backplanes().forEach(Backplane::close);
        other.backplanes().forEach(Backplane::close);
    }
}

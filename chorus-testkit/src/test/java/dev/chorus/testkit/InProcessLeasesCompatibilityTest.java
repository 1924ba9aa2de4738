package dev.chorus.testkit;

import dev.chorus.ReplicaId;
import dev.chorus.leases.Leases;
import dev.chorus.local.LocalCluster;
import dev.chorus.local.LocalCluster.LocalReplica;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** The in-process lease store passes the whole leases compatibility kit. */
class InProcessLeasesCompatibilityTest extends LeasesCompatibilityKit {

    @Override
    protected LeaseStoreFixture newStore(String testName) {
        // The default monotonic clock: the kit runs in real time.
        LocalCluster cluster = LocalCluster.create("kit");
        List<LocalReplica> replicas = new CopyOnWriteArrayList<>();
        return new LeaseStoreFixture() {
            @Override
            public Leases leases(ReplicaId replica) {
                LocalReplica joined = cluster.join(replica);
                replicas.add(joined);
                return joined.leases();
            }

            @Override
            public void close() {
                replicas.forEach(LocalReplica::close);
            }
        };
    }
}

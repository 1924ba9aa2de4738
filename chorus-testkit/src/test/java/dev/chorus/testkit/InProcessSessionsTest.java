package dev.chorus.testkit;

import dev.chorus.ReplicaId;
import dev.chorus.local.LocalCluster;

/** Sessions and dispatch on the in-process transport and lease store. */
class InProcessSessionsTest extends SessionsCompatibilityKit {

    @Override
    protected Cluster newCluster(String testName) {
        LocalCluster local = LocalCluster.create("sessions");
        return new Cluster() {
            @Override
            public Replica join(String name) {
                LocalCluster.LocalReplica replica = local.join(ReplicaId.random(name));
                return new Replica(replica.backplane(), replica.leases(), replica.membership());
            }

            @Override
            public void close() {
                local.backplanes().forEach(b -> b.close());
            }
        };
    }
}

package dev.chorus.jgroups;

import dev.chorus.ReplicaId;
import dev.chorus.local.LocalCluster;
import dev.chorus.testkit.SessionsCompatibilityKit;
import dev.chorus.testkit.TestSecrets;
import java.util.ArrayList;
import java.util.List;

/**
 * Sessions and dispatch with JGroups as backplane and membership. JGroups has no lease store (see
 * docs/jgroups.md): leases come from the in-process store here, standing in for PostgreSQL or Redis in
 * production. Cutting a replica off its store is that store's test, not this transport's, so the kit skips it.
 */
class JGroupsSessionsIT extends SessionsCompatibilityKit {

    @Override
    protected Cluster newCluster(String testName) {
        JGroupsTestCluster cluster = new JGroupsTestCluster("sessions", TestSecrets.SECRET);
        LocalCluster leaseStore = LocalCluster.create("sessions-leases");
        List<LocalCluster.LocalReplica> leaseHolders = new ArrayList<>();
        return new Cluster() {
            @Override
            public Replica join(String name) {
                ReplicaId id = ReplicaId.random(name);
                JGroupsBackplane backplane = cluster.join(id, b -> b);
                LocalCluster.LocalReplica leases = leaseStore.join(id);
                leaseHolders.add(leases);
                return new Replica(backplane, leases.leases(), backplane.membership());
            }

            @Override
            public void close() {
                cluster.close();
                leaseHolders.forEach(LocalCluster.LocalReplica::close);
            }
        };
    }
}

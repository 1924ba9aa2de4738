package dev.chorus.jgroups;

import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.ReplicatedCacheKit;
import dev.chorus.testkit.TestSecrets;

/** The replicated cache keeps its staleness bound on the JGroups backplane, with cut and frozen members. */
class JGroupsReplicatedCacheIT extends ReplicatedCacheKit {

    @Override
    protected BackplaneCompatibilityKit.ClusterFixture newCluster(String testName) {
        return new JGroupsTestCluster("cache", TestSecrets.SECRET);
    }
}

package dev.chorus.jgroups;

import dev.chorus.testkit.BackplaneCompatibilityKit;

/** The JGroups backplane (TCP discovery on loopback) passes the whole compatibility kit. */
class JGroupsBackplaneCompatibilityIT extends BackplaneCompatibilityKit {

    @Override
    protected ClusterFixture newCluster(String testName) {
        return new JGroupsTestCluster("kit", null);
    }
}

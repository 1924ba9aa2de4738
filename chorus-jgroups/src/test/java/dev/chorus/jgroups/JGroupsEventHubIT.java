package dev.chorus.jgroups;

import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.EventHubCompatibilityKit;
import dev.chorus.testkit.TestSecrets;

/** The event hub on the JGroups backplane passes the whole kit. */
class JGroupsEventHubIT extends EventHubCompatibilityKit {

    @Override
    protected BackplaneCompatibilityKit.ClusterFixture newCluster(String testName) {
        return new JGroupsTestCluster("events", TestSecrets.SECRET);
    }
}

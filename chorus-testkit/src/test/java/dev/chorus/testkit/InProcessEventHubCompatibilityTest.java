package dev.chorus.testkit;

/** The event hub on the in-process transport passes the whole kit. */
class InProcessEventHubCompatibilityTest extends EventHubCompatibilityKit {

    @Override
    protected BackplaneCompatibilityKit.ClusterFixture newCluster(String testName) {
        return new InProcessClusterFixture("events");
    }
}

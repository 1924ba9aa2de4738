package dev.chorus.testkit;

/** The in-process transport passes the whole compatibility kit. */
class InProcessBackplaneCompatibilityTest extends BackplaneCompatibilityKit {

    @Override
    protected ClusterFixture newCluster(String testName) {
        return new InProcessClusterFixture("kit");
    }
}

package dev.chorus.testkit;

/** The replicated cache keeps its staleness bound on the in-process transport. */
class InProcessReplicatedCacheTest extends ReplicatedCacheKit {

    @Override
    protected BackplaneCompatibilityKit.ClusterFixture newCluster(String testName) {
        return new InProcessClusterFixture("cachekit");
    }
}

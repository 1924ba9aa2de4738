package dev.chorus.redis;

import dev.chorus.testkit.BackplaneCompatibilityKit;

/** The Redis backplane passes the whole compatibility kit. */
class RedisBackplaneCompatibilityIT extends BackplaneCompatibilityKit {

    @Override
    protected ClusterFixture newCluster(String testName) {
        return RedisTestCluster.fixture("kit");
    }
}

package dev.chorus.redis;

import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.EventHubCompatibilityKit;

/** The event hub on the Redis backplane passes the whole kit. */
class RedisEventHubIT extends EventHubCompatibilityKit {

    @Override
    protected BackplaneCompatibilityKit.ClusterFixture newCluster(String testName) {
        return RedisTestCluster.fixture("events");
    }
}

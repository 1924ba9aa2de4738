package dev.chorus.redis;

import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.ReplicatedCacheKit;

/** The replicated cache keeps its staleness bound on Redis, with CLIENT KILL and frozen links. */
class RedisReplicatedCacheIT extends ReplicatedCacheKit {

    @Override
    protected BackplaneCompatibilityKit.ClusterFixture newCluster(String testName) {
        return RedisTestCluster.fixture("cache");
    }
}

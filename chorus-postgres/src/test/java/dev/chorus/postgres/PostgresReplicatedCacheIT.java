package dev.chorus.postgres;

import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.ReplicatedCacheKit;

/** The replicated cache keeps its staleness bound on PostgreSQL, with listener kills and frozen links. */
class PostgresReplicatedCacheIT extends ReplicatedCacheKit {

    @Override
    protected BackplaneCompatibilityKit.ClusterFixture newCluster(String testName) {
        return PgTestCluster.fixture("cache");
    }
}

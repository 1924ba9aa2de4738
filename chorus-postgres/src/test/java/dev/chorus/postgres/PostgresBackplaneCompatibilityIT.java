package dev.chorus.postgres;

import dev.chorus.testkit.BackplaneCompatibilityKit;

/** The PostgreSQL backplane passes the whole compatibility kit. */
class PostgresBackplaneCompatibilityIT extends BackplaneCompatibilityKit {

    @Override
    protected ClusterFixture newCluster(String testName) {
        return PgTestCluster.fixture("kit");
    }
}

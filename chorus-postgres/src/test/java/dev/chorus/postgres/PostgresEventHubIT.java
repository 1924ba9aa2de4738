package dev.chorus.postgres;

import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.EventHubCompatibilityKit;

/** The event hub on the PostgreSQL backplane passes the whole kit. */
class PostgresEventHubIT extends EventHubCompatibilityKit {

    @Override
    protected BackplaneCompatibilityKit.ClusterFixture newCluster(String testName) {
        return PgTestCluster.fixture("events");
    }
}

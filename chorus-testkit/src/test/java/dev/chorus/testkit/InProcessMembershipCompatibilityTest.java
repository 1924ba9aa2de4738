package dev.chorus.testkit;

import dev.chorus.ReplicaId;
import dev.chorus.local.LocalCluster;
import dev.chorus.local.LocalCluster.LocalReplica;
import dev.chorus.membership.Membership;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/** The in-process membership passes the whole membership compatibility kit. */
class InProcessMembershipCompatibilityTest extends MembershipCompatibilityKit {

    @Override
    protected MembershipFixture newCluster(String testName) {
        LocalCluster cluster = LocalCluster.create("kit");
        List<LocalReplica> replicas = new CopyOnWriteArrayList<>();
        return new MembershipFixture() {
            @Override
            public Membership join(ReplicaId replica, String version, Map<String, String> attributes) {
                LocalReplica joined = cluster.join(replica, version, attributes);
                replicas.add(joined);
                return joined.membership();
            }

            @Override
            public void crash(Membership membership) {
                cluster.crash(membership.self().id());
            }

            @Override
            public Duration expiry() {
                // A crash is reported at once: there are no heartbeats to miss in one JVM.
                return Duration.ZERO;
            }

            @Override
            public void close() {
                replicas.forEach(LocalReplica::close);
            }
        };
    }
}

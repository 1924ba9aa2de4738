package dev.chorus.jgroups;

import dev.chorus.ReplicaId;
import dev.chorus.membership.Membership;
import dev.chorus.testkit.MembershipCompatibilityKit;
import dev.chorus.testkit.TestSecrets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Membership from JGroups views passes the membership kit. A crash is JGroups' DISCARD dropping everything the
 * member sends and receives, which is what a hung or cut-off process looks like to the others.
 */
class JGroupsMembershipCompatibilityIT extends MembershipCompatibilityKit {

    @Override
    protected MembershipFixture newCluster(String testName) {
        JGroupsTestCluster cluster = new JGroupsTestCluster("membership", TestSecrets.SECRET);
        Map<Membership, JGroupsBackplane> backplanes = new ConcurrentHashMap<>();
        return new MembershipFixture() {
            @Override
            public Membership join(ReplicaId replica, String version, Map<String, String> attributes) {
                JGroupsBackplane backplane =
                        cluster.join(replica, b -> b.version(version).attributes(attributes));
                backplanes.put(backplane.membership(), backplane);
                return backplane.membership();
            }

            @Override
            public void crash(Membership membership) {
                backplanes.get(membership).discard().discardAll(true);
            }

            @Override
            public Duration expiry() {
                // FD_ALL3's timeout, VERIFY_SUSPECT2's check and one view installation.
                return JGroupsTestCluster.FAILURE_TIMEOUT.multipliedBy(2);
            }

            @Override
            public void close() {
                cluster.close();
            }
        };
    }
}

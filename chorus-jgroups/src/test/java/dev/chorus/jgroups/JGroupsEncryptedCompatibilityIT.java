package dev.chorus.jgroups;

import dev.chorus.Secret;
import dev.chorus.testkit.BackplaneCompatibilityKit;

/** With a cluster secret (encrypted, signed, guarded) the JGroups backplane passes the whole kit too. */
class JGroupsEncryptedCompatibilityIT extends BackplaneCompatibilityKit {

    @Override
    protected ClusterFixture newCluster(String testName) {
        return new JGroupsTestCluster("kit-enc", new Secret("kit-secret-0123456789-abcdefghij"));
    }
}

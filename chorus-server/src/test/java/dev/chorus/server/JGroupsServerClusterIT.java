package dev.chorus.server;

import dev.chorus.testkit.LoopbackPorts;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * {@link ServerClusterContract} on the JGroups mesh in TCP discovery mode on loopback (leases, membership and
 * storage in PostgreSQL), each replica on a cluster port of its own, every port listed as an initial host.
 */
class JGroupsServerClusterIT extends ServerClusterContract {

    private static final List<String> NAMES = List.of("a", "b", "c", "d");

    private final Map<String, Integer> ports = new HashMap<>();

    @Override
    protected Map<String, String> transportEnv() {
        for (String name : NAMES) {
            ports.put(name, freePort());
        }
        Map<String, String> env = TestClients.sharedStorage("srv", "jgroups");
        env.put("CLUSTER_DISCOVERY", "TCP");
        env.put("CLUSTER_BIND_ADDRESS", "127.0.0.1");
        env.put(
                "CLUSTER_INITIAL_HOSTS",
                NAMES.stream().map(n -> "127.0.0.1[" + ports.get(n) + "]").collect(Collectors.joining(",")));
        return env;
    }

    @Override
    protected Map<String, String> replicaEnv(String name) {
        return Map.of("CLUSTER_PORT", Integer.toString(ports.get(name)));
    }

    private static int freePort() {
        return LoopbackPorts.free(100); // FD_SOCK2 listens on port + 100
    }
}

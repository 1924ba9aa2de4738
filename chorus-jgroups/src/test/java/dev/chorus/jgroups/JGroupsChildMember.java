package dev.chorus.jgroups;

import dev.chorus.ChorusConfig.HostPort;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Message;
import dev.chorus.testkit.ChildJvm;
import java.util.ArrayList;
import java.util.List;

/**
 * A JGroups member in its own JVM for {@link JGroupsProcessIT}: joins, answers every {@code ping} with a
 * {@code pong}, prints {@code READY <uuid>}, and leaves cleanly when it reads {@code close} on stdin.
 *
 * <p>Arguments: cluster name, own port, peers as {@code host[port],host[port]}, replica name.
 */
public final class JGroupsChildMember {

    private JGroupsChildMember() {}

    /** Runs one member until told to close. */
    public static void main(String[] args) throws Exception {
        List<HostPort> peers = new ArrayList<>();
        for (String part : args[2].split(",")) {
            int open = part.indexOf('[');
            peers.add(new HostPort(
                    part.substring(0, open), Integer.parseInt(part.substring(open + 1, part.length() - 1))));
        }
        ReplicaId id = ReplicaId.random(args[3]);
        try (JGroupsBackplane backplane = JGroupsTestCluster.fast(args[0], id, Integer.parseInt(args[1]), peers)
                .build()) {
            backplane.subscribe(
                    "ping", e -> backplane.publish(Message.of("pong", args[3] + ":" + e.payloadAsString())));
            ChildJvm.ready(id.uuid());
            ChildJvm.awaitClose();
        }
        ChildJvm.closed();
    }
}

package dev.chorus.jgroups;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusConfig.HostPort;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.health.Health;
import dev.chorus.membership.MembershipListener;
import dev.chorus.testkit.ChildJvm;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Three members on loopback, one of them another JVM: messages reach all; {@code kill -9} leaves the view. */
class JGroupsProcessIT {

    private final List<JGroupsBackplane> local = new ArrayList<>();
    private final List<ChildJvm> children = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (ChildJvm child : children) {
            child.close();
        }
        local.forEach(JGroupsBackplane::close);
    }

    @Test
    void threeMembers_oneInAnotherJvm_messagesReachAll_andKill9LeavesTheView() throws Exception {
        String cluster = JGroupsTestCluster.uniqueName("process");
        String host = JGroupsTestCluster.LOOPBACK.getHostAddress();
        int[] ports = {JGroupsTestCluster.freePort(), JGroupsTestCluster.freePort(), JGroupsTestCluster.freePort()};
        List<HostPort> peers = new ArrayList<>();
        for (int port : ports) {
            peers.add(new HostPort(host, port));
        }
        JGroupsBackplane a = JGroupsTestCluster.fast(cluster, ReplicaId.random("a"), ports[0], peers)
                .build();
        local.add(a);
        JGroupsBackplane b = JGroupsTestCluster.fast(cluster, ReplicaId.random("b"), ports[1], peers)
                .build();
        local.add(b);
        Map<UUID, MembershipListener.LeaveReason> leftOnA = new ConcurrentHashMap<>();
        List<ReplicaId> joinedOnA = new CopyOnWriteArrayList<>();
        a.membership().onChange(JGroupsBackplaneIT.listener(joinedOnA, new ConcurrentHashMap<>()));
        a.membership().onChange(new MembershipListener() {
            @Override
            public void onLeft(dev.chorus.membership.Member member, LeaveReason reason) {
                leftOnA.put(member.id().uuid(), reason);
            }
        });
        List<String> pongs = new CopyOnWriteArrayList<>();
        List<Missed> missedOnA = new CopyOnWriteArrayList<>();
        a.subscribe("pong", JGroupsBackplaneIT.recorder(pongs, missedOnA));
        List<String> pingsOnB = new CopyOnWriteArrayList<>();
        b.subscribe("ping", JGroupsBackplaneIT.recorder(pingsOnB, new CopyOnWriteArrayList<>()));
        String peerList = peers.stream().map(HostPort::toString).collect(Collectors.joining(","));

        ChildJvm child = ChildJvm.start(
                JGroupsChildMember.class, "child", cluster, Integer.toString(ports[2]), peerList, "child");
        children.add(child);

        await().atMost(Duration.ofSeconds(30))
                .until(() -> a.view() != null && a.view().size() == 3);
        await().atMost(Duration.ofSeconds(30))
                .until(() -> joinedOnA.stream().anyMatch(id -> id.uuid().equals(child.id())));
        await().atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> {
                    a.publish(Message.of("ping", "1"));
                    return pongs.contains("child:1");
                });
        // The child's answer can reach A before B has been handed the ping: B delivers on its own threads.
        await().atMost(Duration.ofSeconds(10)).until(() -> pingsOnB.contains("1"));
        assertThat(a.health().isHealthy()).isTrue();

        child.kill(); // SIGKILL: no goodbye, the socket just dies

        await().atMost(JGroupsTestCluster.FAILURE_TIMEOUT.multipliedBy(3))
                .pollInterval(Duration.ofMillis(20))
                .until(() -> a.view().size() == 2 && b.view().size() == 2);
        await().atMost(Duration.ofSeconds(5)).until(() -> leftOnA.containsKey(child.id()));
        assertThat(leftOnA.get(child.id())).isEqualTo(MembershipListener.LeaveReason.EXPIRED);
        assertThat(a.membership().liveCount()).isEqualTo(2);
        assertThat(a.health().status()).isEqualTo(Health.Status.DEGRADED);
        assertThat(a.health().reason()).contains("suspected");
        // The suspicion grace passes without a merge: the survivors are HEALTHY again, and say so.
        await().atMost(JGroupsTestCluster.SUSPICION_GRACE.plusSeconds(5))
                .until(() -> a.health().isHealthy());
        await().atMost(Duration.ofSeconds(5))
                .until(() -> missedOnA.stream().anyMatch(m -> m.cause() == Missed.Cause.RECONNECTED));
    }
}

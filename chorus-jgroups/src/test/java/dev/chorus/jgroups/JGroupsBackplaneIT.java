package dev.chorus.jgroups;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusConfig.HostPort;
import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.backplane.ConnectivityEvent;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.health.Health;
import dev.chorus.membership.Member;
import dev.chorus.membership.MembershipListener;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.Rejection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** JGroups-specific behaviour: partitions and merges, refusals with reasons, cluster isolation, health. */
class JGroupsBackplaneIT {

    private static final Secret SECRET = new Secret("jgroups-it-secret-0123456789abcdef");
    private static final Secret OTHER_SECRET = new Secret("another-secret-entirely-9876543210");

    private final List<JGroupsTestCluster> clusters = new ArrayList<>();
    private final List<JGroupsBackplane> extra = new ArrayList<>();

    @AfterEach
    void close() {
        extra.forEach(JGroupsBackplane::close);
        clusters.forEach(JGroupsTestCluster::close);
    }

    private static ConditionFactory waiting() {
        return await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20));
    }

    private JGroupsTestCluster cluster(Secret secret) {
        JGroupsTestCluster cluster = new JGroupsTestCluster("it", secret);
        clusters.add(cluster);
        return cluster;
    }

    private static List<JGroupsBackplane> start(JGroupsTestCluster cluster, int count) {
        List<JGroupsBackplane> members = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            members.add(cluster.join(ReplicaId.random("m" + i), b -> b));
        }
        for (JGroupsBackplane m : members) {
            waiting()
                    .until(() -> m.view() != null
                            && m.view().size() == count
                            && m.health().isHealthy());
        }
        return members;
    }

    @Test
    void threeMembers_partitionAndMerge_reportMissedOnBothSidesAndMembershipFollows() {
        List<JGroupsBackplane> m = start(cluster(SECRET), 3);
        JGroupsBackplane a = m.get(0);
        JGroupsBackplane c = m.get(2);
        List<Missed> missedOnA = new CopyOnWriteArrayList<>();
        List<Missed> missedOnC = new CopyOnWriteArrayList<>();
        List<String> onC = new CopyOnWriteArrayList<>();
        a.subscribe("t", recorder(new CopyOnWriteArrayList<>(), missedOnA));
        c.subscribe("t", recorder(onC, missedOnC));
        List<ConnectivityEvent> eventsOnA = new CopyOnWriteArrayList<>();
        a.onConnectivity(eventsOnA::add);
        Map<ReplicaId, MembershipListener.LeaveReason> leftOnA = new ConcurrentHashMap<>();
        List<ReplicaId> joinedOnA = new CopyOnWriteArrayList<>();
        a.membership().onChange(listener(joinedOnA, leftOnA));
        waiting().until(() -> a.membership().liveCount() == 3);
        waiting().until(() -> {
            a.publish(Message.of("t", "before"));
            return onC.contains("before");
        });

        c.discard().discardAll(true); // c is cut off: a partition {a, b} | {c}

        waiting().until(() -> a.view().size() == 2 && c.view().size() == 1);
        assertThat(a.health().status()).isEqualTo(Health.Status.DEGRADED);
        assertThat(a.health().reason()).contains("suspected");
        assertThat(c.health().status()).isEqualTo(Health.Status.DEGRADED);
        waiting().until(() -> leftOnA.containsKey(c.replica()));
        assertThat(leftOnA).containsEntry(c.replica(), MembershipListener.LeaveReason.EXPIRED);
        joinedOnA.clear(); // from here on, only the rejoin after the merge

        c.discard().discardAll(false);

        waiting().until(() -> a.view().size() == 3 && c.view().size() == 3);
        waiting().until(() -> missedOnA.stream().anyMatch(x -> x.cause() == Missed.Cause.RECONNECTED));
        waiting().until(() -> missedOnC.stream().anyMatch(x -> x.cause() == Missed.Cause.RECONNECTED));
        waiting().until(() -> eventsOnA.stream().anyMatch(e -> e.type() == ConnectivityEvent.Type.RECONNECTED));
        waiting().until(() -> a.health().isHealthy() && c.health().isHealthy());
        waiting().until(() -> joinedOnA.contains(c.replica()));
        waiting().until(() -> a.membership().liveCount() == 3);
        waiting().until(() -> {
            a.publish(Message.of("t", "after"));
            return onC.contains("after");
        });
    }

    @Test
    void wrongSecret_cannotJoin_andBothSidesSayWhy() {
        JGroupsTestCluster cluster = cluster(SECRET);
        List<JGroupsBackplane> m = start(cluster, 2);
        JGroupsBackplane intruder = intruder(cluster, b -> b.secret(OTHER_SECRET));

        waiting()
                .until(() -> String.valueOf(intruder.health().details().get("lastRefusal"))
                        .contains("different CHORUS_CLUSTER_SECRET"));
        waiting()
                .until(() -> String.valueOf(m.get(0).health().details().get("lastRefusal"))
                        .contains("different CHORUS_CLUSTER_SECRET"));
        assertThat(intruder.health().status()).isEqualTo(Health.Status.DEGRADED);
        assertThat(intruder.health().reason()).contains("alone").contains("different CHORUS_CLUSTER_SECRET");
        assertThat(intruder.view().size()).isEqualTo(1);
        assertThat(m.get(0).view().size()).isEqualTo(2);
        assertThat(m.get(0).health().isHealthy()).isTrue();
    }

    @Test
    void noSecretAmongSecretMembers_isRefusedWithTheReason() {
        JGroupsTestCluster cluster = cluster(SECRET);
        List<JGroupsBackplane> m = start(cluster, 2);
        JGroupsBackplane open = intruder(cluster, b -> b.secret(null).allowUnsigned());

        waiting()
                .until(() -> String.valueOf(open.health().details().get("lastRefusal"))
                        .contains("this member has none"));
        waiting()
                .until(() -> String.valueOf(m.get(1).health().details().get("lastRefusal"))
                        .contains("it has no CHORUS_CLUSTER_SECRET"));
        assertThat(m.get(0).view().size()).isEqualTo(2);
    }

    @Test
    void incompatibleWireVersion_isRefusedOnBothSides() {
        JGroupsTestCluster cluster = cluster(SECRET);
        List<JGroupsBackplane> m = start(cluster, 2);
        JGroupsBackplane future = intruder(cluster, b -> b.wireVersion(JGroupsBackplane.WIRE_VERSION + 1));

        waiting()
                .until(() -> String.valueOf(future.health().details().get("lastRefusal"))
                        .contains("wire format " + JGroupsBackplane.WIRE_VERSION));
        waiting()
                .until(() -> String.valueOf(m.get(0).health().details().get("lastRefusal"))
                        .contains("wire format " + (JGroupsBackplane.WIRE_VERSION + 1)));
        assertThat(future.view().size()).isEqualTo(1);
        assertThat(m.get(0).view().size()).isEqualTo(2);
    }

    @Test
    void twoClusters_onTheSamePorts_neverMerge() {
        int[] ports = {
            JGroupsTestCluster.freePort(),
            JGroupsTestCluster.freePort(),
            JGroupsTestCluster.freePort(),
            JGroupsTestCluster.freePort()
        };
        List<HostPort> all = new ArrayList<>();
        for (int port : ports) {
            all.add(new HostPort(JGroupsTestCluster.LOOPBACK.getHostAddress(), port));
        }
        String blue = JGroupsTestCluster.uniqueName("blue");
        String green = JGroupsTestCluster.uniqueName("green");
        List<JGroupsBackplane> members = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            JGroupsBackplane b = JGroupsTestCluster.fast(i < 2 ? blue : green, ReplicaId.random("m" + i), ports[i], all)
                    .secret(SECRET)
                    .build();
            members.add(b);
            extra.add(b);
        }
        List<String> onGreen = new CopyOnWriteArrayList<>();
        members.get(3).subscribe("t", recorder(onGreen, new CopyOnWriteArrayList<>()));
        for (JGroupsBackplane b : members) {
            waiting().until(() -> b.view() != null && b.view().size() == 2);
        }
        members.get(0).publish(Message.of("t", "blue"));
        waiting().until(() -> {
            members.get(2).publish(Message.of("t", "green"));
            return onGreen.contains("green");
        });

        // Several MERGE3 rounds (0.5 to 1.5 s apart): the views must stay apart the whole time.
        await().during(Duration.ofSeconds(4))
                .atMost(Duration.ofSeconds(10))
                .until(() -> members.stream().allMatch(b -> b.view().size() == 2));
        assertThat(onGreen).doesNotContain("blue");
        assertThat(members.get(0).view().getMembers())
                .containsExactlyInAnyOrderElementsOf(members.get(1).view().getMembers());
    }

    @Test
    void aloneWithPeersConfigured_isDegradedWithTheReason() {
        int free = JGroupsTestCluster.freePort();
        int self = JGroupsTestCluster.freePort();
        String host = JGroupsTestCluster.LOOPBACK.getHostAddress();
        JGroupsBackplane alone = JGroupsTestCluster.fast(
                        JGroupsTestCluster.uniqueName("alone"),
                        ReplicaId.random("alone"),
                        self,
                        List.of(new HostPort(host, self), new HostPort(host, free)))
                .build();
        extra.add(alone);

        waiting().until(() -> alone.view() != null);
        waiting().until(() -> alone.health().reason().contains("alone in the view"));
        assertThat(alone.health().status()).isEqualTo(Health.Status.DEGRADED);
        assertThat(alone.health().reason()).contains("1 other peer(s)").contains(String.valueOf(free));
    }

    private JGroupsBackplane intruder(
            JGroupsTestCluster cluster, java.util.function.UnaryOperator<JGroupsBackplane.Builder> tweak) {
        int port = JGroupsTestCluster.freePort();
        List<HostPort> peers = new ArrayList<>(cluster.hosts());
        peers.add(new HostPort(JGroupsTestCluster.LOOPBACK.getHostAddress(), port));
        JGroupsBackplane b = tweak.apply(JGroupsTestCluster.fast(cluster.name(), ReplicaId.random("x"), port, peers)
                        .secret(SECRET))
                .build();
        extra.add(b);
        waiting().until(() -> b.view() != null);
        return b;
    }

    @Test
    void aBurstTravelsInFrames_andAMessageThatIsNotAFrameIsDroppedAndCounted() throws Exception {
        List<JGroupsBackplane> m = start(cluster(null), 2);
        JGroupsBackplane a = m.get(0);
        JGroupsBackplane b = m.get(1);
        List<String> onB = new CopyOnWriteArrayList<>();
        List<Missed> missedOnB = new CopyOnWriteArrayList<>();
        b.subscribe("t", recorder(onB, missedOnB));
        long framesBefore = a.framesSent();
        List<String> sent = new ArrayList<>();

        for (int i = 0; i < 20_000; i++) {
            sent.add("m" + i);
            a.publish(Message.of("t", "m" + i));
        }
        a.sendRawBytes("hello".getBytes(java.nio.charset.StandardCharsets.UTF_8));

        waiting().until(() -> onB.size() == sent.size());
        assertThat(onB).containsExactlyElementsOf(sent);
        // One JGroups message per envelope would be 20,000; frames carry many each.
        assertThat(a.framesSent() - framesBefore).isLessThan(sent.size() / 2);
        waiting().until(() -> b.stats().rejected().get(Rejection.MALFORMED) == 1L);
        assertThat(missedOnB).isEmpty();
        assertThat(b.health().isHealthy()).isTrue();
    }

    static Subscriber recorder(List<String> texts, List<Missed> missed) {
        return new Subscriber() {
            @Override
            public void onMessage(Envelope envelope) {
                texts.add(envelope.payloadAsString());
            }

            @Override
            public void onMissed(Missed m) {
                missed.add(m);
            }
        };
    }

    static MembershipListener listener(List<ReplicaId> joined, Map<ReplicaId, MembershipListener.LeaveReason> left) {
        return new MembershipListener() {
            @Override
            public void onJoined(Member member) {
                joined.add(member.id());
            }

            @Override
            public void onLeft(Member member, LeaveReason reason) {
                left.put(member.id(), reason);
            }
        };
    }
}

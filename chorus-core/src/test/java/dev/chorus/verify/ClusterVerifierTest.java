package dev.chorus.verify;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.local.LocalCluster;
import dev.chorus.sessions.Sessions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The automatic cluster check on the in-process transport. */
class ClusterVerifierTest {

    private static final Duration TIMEOUT = Duration.ofMillis(800);

    private final LocalCluster cluster = LocalCluster.create("verifytest");
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        cluster.backplanes().forEach(b -> b.close());
    }

    private record Node(LocalCluster.LocalReplica replica, ClusterVerifier verifier, List<AutoCloseable> parts)
            implements AutoCloseable {
        @Override
        public void close() throws Exception {
            for (int i = parts.size() - 1; i >= 0; i--) {
                parts.get(i).close();
            }
        }
    }

    private Node node(String name, String version, Map<String, String> attributes, OptionalInt max) {
        LocalCluster.LocalReplica replica = cluster.join(ReplicaId.random(name), version, attributes);
        ClusterCalls calls = new ClusterCalls(replica.backplane(), replica.membership());
        Sessions sessions = Sessions.builder(replica.backplane(), replica.leases())
                .membership(replica.membership())
                .build();
        ClusterVerifier verifier = new ClusterVerifier(replica.membership(), calls, sessions, max);
        Node node = new Node(replica, verifier, new ArrayList<>(List.of(replica, calls, sessions, verifier)));
        closeables.add(node);
        await().until(() ->
                sessions.local(ClusterVerifier.probeId(replica.id())).isPresent());
        return node;
    }

    private Node node(String name) {
        return node(
                name, "1.0", Map.of("fingerprint.signing-key", ClusterVerifier.fingerprint("k1")), OptionalInt.empty());
    }

    @Test
    void aHealthyClusterPassesEveryCheck() {
        Node a = node("a");
        node("b");
        node("c");

        VerifyReport report = a.verifier().verify(TIMEOUT);

        assertThat(report.passed()).as(report.toString()).isTrue();
        assertThat(report.check("members").detail()).startsWith("3 replicas live, all on version 1.0");
        assertThat(report.check("backplane").detail()).isEqualTo("all 3 replicas answered over the backplane");
        assertThat(report.check("dispatch").detail()).contains("each of the 2 other replicas");
    }

    @Test
    void aReplicaThatCannotReceiveIsNamed() {
        Node a = node("a");
        node("b");
        Node deaf = node("deaf");

        cluster.isolate(deaf.replica().id());
        VerifyReport report = a.verifier().verify(TIMEOUT);

        assertThat(report.passed()).isFalse();
        assertThat(report.check("members").passed()).isTrue();
        assertThat(report.check("backplane").passed()).isFalse();
        assertThat(report.check("backplane").detail())
                .startsWith("1 of 3 replicas did not answer")
                .contains(deaf.replica().id().toString());
        assertThat(report.check("dispatch").detail())
                .contains(deaf.replica().id().toString() + ": TIMEOUT");
    }

    @Test
    void aReplicaCutOffItselfSaysItMayBeTheOneAtFault() {
        Node a = node("a");
        node("b");
        node("c");

        cluster.isolate(a.replica().id());
        VerifyReport.Check backplane = a.verifier().verify(TIMEOUT).check("backplane");

        assertThat(backplane.passed()).isFalse();
        assertThat(backplane.detail())
                .contains("this replica itself may be cut off")
                .contains("DEGRADED");
    }

    @Test
    void differentVersionsAndFingerprintsAreReported() {
        Node a = node("a");
        node("old", "0.9", Map.of("fingerprint.signing-key", ClusterVerifier.fingerprint("k1")), OptionalInt.empty());
        node(
                "rotated",
                "1.0",
                Map.of("fingerprint.signing-key", ClusterVerifier.fingerprint("k2")),
                OptionalInt.empty());

        VerifyReport.Check members = a.verifier().verify(TIMEOUT).check("members");

        assertThat(members.passed()).isFalse();
        assertThat(members.detail()).contains("replicas run different versions").contains("signing-key differs");
    }

    @Test
    void theMaxInstancesGuardCountsReplicasAsTheyComeAndGo() {
        Node a = node("a", "1.0", Map.of(), OptionalInt.of(2));
        assertThat(a.verifier().maxInstances().exceeded()).isFalse();
        Node b = node("b");
        assertThat(a.verifier().maxInstances().live()).isEqualTo(2);
        assertThat(a.verifier().maxInstances().exceeded()).isFalse();

        Node c = node("c");
        assertThat(a.verifier().maxInstances().exceeded()).isTrue();
        assertThat(a.verifier().maxInstances().warning())
                .startsWith("3 replicas are live but CHORUS_MAX_INSTANCES is 2");
        assertThat(a.verifier().verify(TIMEOUT).check("max-instances").passed()).isFalse();

        c.replica().close();
        await().until(() -> a.verifier().maxInstances().live() == 2);
        assertThat(a.verifier().maxInstances().exceeded()).isFalse();
        assertThat(b.verifier().maxInstances().warning()).isNull();
    }

    @Test
    void fingerprintsAreShortStableAndRevealNothing() {
        assertThat(ClusterVerifier.fingerprint("s3cret-signing-key"))
                .hasSize(16)
                .isEqualTo(ClusterVerifier.fingerprint("s3cret-signing-key"));
        assertThat(ClusterVerifier.fingerprint("s3cret-signing-key")).doesNotContain("s3cret");
    }
}

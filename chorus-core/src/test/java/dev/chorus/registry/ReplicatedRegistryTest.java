package dev.chorus.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.health.Health;
import dev.chorus.local.LocalCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** ReplicatedRegistry on the in-process transport with a shared in-memory store. */
class ReplicatedRegistryTest {

    private final LocalCluster cluster = LocalCluster.create("registrytest");
    private final InMemoryDefinitionStore store = new InMemoryDefinitionStore();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final List<Sender> closed = new CopyOnWriteArrayList<>();

    /** A stand-in for a webhook sender: one per destination per replica. */
    final class Sender implements AutoCloseable, ResourceStatusSource {
        final String replica;
        final String url;
        final AtomicLong sent = new AtomicLong();

        Sender(String replica, String url) {
            this.replica = replica;
            this.url = url;
        }

        @Override
        public Map<String, Long> counters() {
            return Map.of("sent", sent.get());
        }

        @Override
        public void close() {
            closed.add(this);
        }
    }

    @AfterEach
    void close() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        cluster.backplanes().forEach(b -> b.close());
    }

    private record Node(LocalCluster.LocalReplica replica, ReplicatedRegistry<String, Sender> registry) {}

    private Node node(String name) {
        return node(name, (id, url) -> new Sender(name, url));
    }

    private Node node(String name, ResourceFactory<String, Sender> factory) {
        LocalCluster.LocalReplica replica = cluster.join(ReplicaId.random(name));
        closeables.add(replica);
        ClusterCalls calls = new ClusterCalls(replica.backplane(), replica.membership());
        closeables.add(calls);
        ReplicatedRegistry<String, Sender> registry = ReplicatedRegistry.builder(
                        replica.backplane(), "destinations", store, DefinitionCodec.utf8(), factory)
                .reconcileEvery(Duration.ofMillis(300))
                .clusterCalls(calls)
                .build();
        closeables.add(registry);
        return new Node(replica, registry);
    }

    @Test
    void aDefinitionPutOnOneReplicaIsBuiltOnEvery() {
        Node a = node("a");
        Node b = node("b");

        a.registry().put("d1", "https://example.test/hook");

        assertThat(a.registry().resource("d1"))
                .hasValueSatisfying(s -> assertThat(s.replica).isEqualTo("a"));
        await().until(() -> b.registry().resource("d1").isPresent());
        assertThat(b.registry().resource("d1").orElseThrow().url).isEqualTo("https://example.test/hook");
        assertThat(b.registry().resource("d1").orElseThrow().replica).isEqualTo("b");
    }

    @Test
    void anUpdateRebuildsAndClosesTheOldResourceAndADeleteClosesIt() {
        Node a = node("a");
        Node b = node("b");
        a.registry().put("d1", "v1");
        await().until(() -> b.registry().resource("d1").isPresent());
        Sender oldOnB = b.registry().resource("d1").orElseThrow();

        a.registry().put("d1", "v2");

        await().until(() -> b.registry().definition("d1").orElseThrow().equals("v2"));
        assertThat(closed).contains(oldOnB);
        Sender newOnB = b.registry().resource("d1").orElseThrow();

        assertThat(a.registry().delete("d1")).isTrue();

        await().until(() -> b.registry().resource("d1").isEmpty());
        assertThat(closed).contains(newOnB);
        assertThat(b.registry().ids()).isEmpty();
    }

    @Test
    void definitionsStoredBeforeAReplicaStartsAreBuiltWhenItStarts() {
        Node a = node("a");
        a.registry().put("d1", "v1");
        a.registry().put("d2", "v2");

        Node late = node("late");

        assertThat(late.registry().ids()).containsExactly("d1", "d2");
    }

    @Test
    void aDroppedAnnouncementHealsAtTheNextReconciliation() {
        Node a = node("a");
        Node b = node("b");
        cluster.dropNext(b.replica().id(), 1);

        a.registry().put("d1", "v1");

        await().until(() -> b.registry().resource("d1").isPresent());
        assertThat(b.registry().stats().get("healedByReconcile")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void aReplicaCutOffMeanwhileReconcilesWhenItReconnects() {
        Node a = node("a");
        Node b = node("b");
        cluster.isolate(b.replica().id());
        a.registry().put("d1", "v1");
        a.registry().put("d2", "v2");

        cluster.heal(b.replica().id());

        await().until(() -> b.registry().ids().equals(List.of("d1", "d2")));
    }

    @Test
    void aResourceThatFailsToBuildIsReportedOnThatReplicaOnly() {
        Node a = node("a");
        Node b = node("b", (id, url) -> {
            if (url.startsWith("http://")) {
                throw new IllegalArgumentException("plain http is refused on this replica");
            }
            return new Sender("b", url);
        });

        a.registry().put("insecure", "http://example.test");

        await().until(() -> b.registry().status("insecure").isPresent());
        ResourceStatus onB = b.registry().status("insecure").orElseThrow();
        assertThat(onB.built()).isFalse();
        assertThat(onB.buildError()).contains("plain http is refused");
        assertThat(b.registry().health().status()).isEqualTo(Health.Status.DEGRADED);
        assertThat(b.registry().health().reason()).contains("insecure");
        assertThat(a.registry().health().isHealthy()).isTrue();
    }

    @Test
    void clusterStatusGathersEveryReplicasCountersAndNamesTheSilentOnes() {
        Node a = node("a");
        Node b = node("b");
        Node c = node("c");
        a.registry().put("d1", "v1");
        await().until(() -> b.registry().resource("d1").isPresent()
                && c.registry().resource("d1").isPresent());
        b.registry().resource("d1").orElseThrow().sent.addAndGet(7);

        List<ReplicaStatus> all =
                a.registry().clusterStatus(Duration.ofSeconds(5)).join();

        assertThat(all).hasSize(3).allSatisfy(s -> assertThat(s.answered()).isTrue());
        ReplicaStatus onB = all.stream()
                .filter(s -> s.replica().equals(b.replica().id()))
                .findFirst()
                .orElseThrow();
        assertThat(onB.resources()).singleElement().satisfies(r -> {
            assertThat(r.id()).isEqualTo("d1");
            assertThat(r.counters()).containsEntry("sent", 7L);
        });

        cluster.isolate(c.replica().id());
        List<ReplicaStatus> partial =
                a.registry().clusterStatus(Duration.ofMillis(500)).join();

        ReplicaStatus onC = partial.stream()
                .filter(s -> s.replica().equals(c.replica().id()))
                .findFirst()
                .orElseThrow();
        assertThat(onC.answered()).isFalse();
        assertThat(onC.error()).contains("no answer within 500 ms");
    }
}

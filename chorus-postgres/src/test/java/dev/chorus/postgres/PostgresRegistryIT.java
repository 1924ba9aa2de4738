package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.registry.DefinitionCodec;
import dev.chorus.registry.ReplicatedRegistry;
import dev.chorus.testkit.FaultProxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** ReplicatedRegistry with definitions in PostgreSQL and announcements over LISTEN/NOTIFY. */
class PostgresRegistryIT {

    private final PgTestCluster cluster = new PgTestCluster("registry");
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        cluster.close();
    }

    private ReplicatedRegistry<String, String> registry(PostgresDatabase database, String name) {
        PostgresBackplane backplane = cluster.replica(database, name, b -> b);
        await().atMost(Duration.ofSeconds(20)).until(() -> backplane.health().isHealthy());
        ReplicatedRegistry<String, String> registry = ReplicatedRegistry.<String, String>builder(
                        backplane,
                        "destinations",
                        new PostgresDefinitionStore(database, cluster.channel),
                        DefinitionCodec.utf8(),
                        (id, url) -> name + ":" + url)
                .reconcileEvery(Duration.ofMinutes(10)) // only announcements and loss signals may heal here
                .build();
        closeables.add(registry);
        return registry;
    }

    @Test
    void definitionsAreStoredVersionedAndBuiltOnEveryReplica() {
        ReplicatedRegistry<String, String> a = registry(cluster.database(), "a");
        ReplicatedRegistry<String, String> b = registry(cluster.database(), "b");

        a.put("d1", "https://one.test");
        await().until(() -> b.resource("d1").isPresent());
        assertThat(b.resource("d1")).hasValue("b:https://one.test");
        long first = b.status("d1").orElseThrow().version();

        a.delete("d1");
        await().until(() -> b.resource("d1").isEmpty());
        a.put("d1", "https://two.test");
        await().until(() -> b.resource("d1").isPresent());
        assertThat(b.status("d1").orElseThrow().version()).isGreaterThan(first);
        assertThat(b.resource("d1")).hasValue("b:https://two.test");
    }

    @Test
    void aCreateWhoseNotificationWasLostHealsWhenTheReplicaReconnects() {
        ReplicatedRegistry<String, String> a = registry(cluster.database(), "a");
        FaultProxy proxy = cluster.proxy();
        ReplicatedRegistry<String, String> b = registry(cluster.database(proxy.host(), proxy.port()), "b");

        proxy.refuse(true);
        proxy.cut(); // b's LISTEN connection dies: the NOTIFY of the create never reaches it
        a.put("d1", "https://lost.test");
        proxy.heal();

        await().atMost(Duration.ofSeconds(30)).until(() -> b.resource("d1").isPresent());
        assertThat(b.resource("d1")).hasValue("b:https://lost.test");
        assertThat(b.stats().get("healedByReconcile")).isGreaterThanOrEqualTo(1);
    }
}

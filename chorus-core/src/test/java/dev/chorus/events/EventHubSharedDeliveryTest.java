package dev.chorus.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.local.LocalCluster;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 20: a user, group or tenant event reaches every matching sink as one Delivery, so a socket layer that
 * encodes a frame per Delivery (the server's EventSocket, by identity) encodes a large event once, not once
 * per socket.
 */
class EventHubSharedDeliveryTest {

    private final Backplane backplane =
            LocalCluster.create("events_shared").join(ReplicaId.random("a")).backplane();
    private final EventHub hub =
            EventHub.builder(backplane).heartbeat(Duration.ofHours(1)).build();

    @AfterEach
    void close() {
        hub.close();
        backplane.close();
    }

    @Test
    void aTenantEvent_reachesEverySinkAsTheSameDelivery() {
        RecordingSink first = new RecordingSink();
        RecordingSink second = new RecordingSink();
        hub.register(Identity.inTenant("acme", "alice"), first);
        hub.register(Identity.inTenant("acme", "bob"), second);

        hub.toTenant("acme", new Event("t", new byte[64 * 1024]));

        await().atMost(Duration.ofSeconds(10))
                .until(() ->
                        first.deliveries().size() == 1 && second.deliveries().size() == 1);
        assertThat(first.deliveries().get(0)).isSameAs(second.deliveries().get(0));
    }
}

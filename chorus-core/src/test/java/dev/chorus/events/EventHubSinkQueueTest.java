package dev.chorus.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.backplane.Backplane;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A sink queue's bounds and the order of its signals, with a client that stopped reading. */
class EventHubSinkQueueTest {

    private static final Event EVENT = Event.of("t", "x");

    private final Backplane backplane = Backplane.inProcess();
    private final EventHub hub =
            EventHub.builder(backplane).heartbeat(Duration.ofHours(1)).build();
    private final HubCounters counters = new HubCounters();
    private final StalledSink sink = new StalledSink();

    @AfterEach
    void close() {
        sink.release.countDown();
        hub.close();
        backplane.close();
    }

    /** A queue whose sink is stuck in its first event, "held". */
    private SinkQueue stalledQueue(int capacity) throws InterruptedException {
        SinkQueue queue = new SinkQueue(
                hub,
                Identity.of("slow"),
                sink,
                "registered",
                capacity,
                Long.MAX_VALUE,
                OverflowPolicy.DROP_OLDEST,
                counters);
        queue.offer(new Delivery("held", EVENT));
        assertThat(sink.entered.await(10, TimeUnit.SECONDS)).isTrue();
        return queue;
    }

    /** Releases the sink and waits until it has had everything up to the event with id {@code last}. */
    private void releaseUntil(SinkQueue queue, String last) {
        sink.release.countDown();
        // Offered once the queue is taken, so the marker itself drops nothing.
        await().atMost(Duration.ofSeconds(10)).until(() -> queue.queued() == 0);
        queue.offer(new Delivery(last, EVENT));
        await().atMost(Duration.ofSeconds(10))
                .until(() ->
                        sink.timeline.stream().anyMatch(item -> item instanceof Delivery d && d.id().equals(last)));
    }

    @Test
    void reloadsSignalledToAStalledSink_coalesceIntoTheNewest() throws Exception {
        SinkQueue queue = stalledQueue(8);

        for (int i = 1; i <= 1_000; i++) {
            queue.signal(new Reload(Reload.Reason.LOSS_DETECTED, "loss " + i, "reload-" + i));
        }
        releaseUntil(queue, "end");

        assertThat(sink.reloads())
                .singleElement()
                .satisfies(r -> assertThat(r.id()).isEqualTo("reload-1000"));
        assertThat(counters.reloadsSent.sum()).isEqualTo(1);
    }

    @Test
    void reloadsBetweenDroppedEvents_stayBounded() throws Exception {
        SinkQueue queue = stalledQueue(2);

        for (int i = 1; i <= 1_000; i++) {
            queue.offer(new Delivery("event-" + i, EVENT));
            queue.signal(new Reload(Reload.Reason.LOSS_DETECTED, "loss " + i, "reload-" + i));
        }
        releaseUntil(queue, "end");

        // What is left of 1,000 events and reloads through a queue of 2: a handful, the newest.
        assertThat(sink.reloads()).hasSizeLessThanOrEqualTo(4);
        assertThat(sink.reloads().getLast().id()).isEqualTo("reload-1000");
        assertThat(counters.reloadsSent.sum()).isEqualTo(sink.reloads().size());
    }

    @Test
    void theOwedOverflowReload_absorbsOlderReloadsQueuedBeforeTheDroppedEvent() throws Exception {
        SinkQueue queue = stalledQueue(2);
        queue.signal(new Reload(Reload.Reason.LOSS_DETECTED, "an older loss", "older"));
        queue.offer(new Delivery("d1", EVENT));
        queue.offer(new Delivery("d2", EVENT));
        queue.offer(new Delivery("d3", EVENT)); // full: drops d1, and with it the older reload before it

        releaseUntil(queue, "end");

        assertThat(sink.timeline).hasSize(5);
        assertThat(sink.timeline.get(1)).isInstanceOfSatisfying(Reload.class, r -> {
            assertThat(r.reason()).isEqualTo(Reload.Reason.QUEUE_OVERFLOW);
            assertThat(r.id()).isEqualTo("d1");
        });
        assertThat(sink.deliveries().stream().map(Delivery::id)).containsExactly("held", "d2", "d3", "end");
        assertThat(queue.position()).isEqualTo("end");
    }

    /** A sink whose first event blocks it until released: a client that stopped reading. */
    private static final class StalledSink extends RecordingSink {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public void onEvent(Delivery delivery) {
            super.onEvent(delivery);
            entered.countDown();
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

package dev.chorus.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.local.LocalCluster.LocalReplica;
import dev.chorus.wire.Envelope;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Issue 20: a subscription's receive queue is bounded in payload bytes; past it, drops are counted and Missed. */
class ReceiveQueueBytesTest {

    @Test
    void aSlowSubscriberPastItsByteBound_dropsEnvelopes_countsThem_andHearsMissed() throws Exception {
        LocalCluster cluster = LocalCluster.builder("bytes_queue")
                .subscriptionBytes(64 * 1024)
                .maxEnvelopeBytes(1 << 20)
                .build();
        try (LocalReplica sender = cluster.join(ReplicaId.random("s"));
                LocalReplica receiver = cluster.join(ReplicaId.random("r"))) {
            CountDownLatch gate = new CountDownLatch(1);
            CountDownLatch entered = new CountDownLatch(1);
            List<Integer> got = new CopyOnWriteArrayList<>();
            List<Missed> missed = new CopyOnWriteArrayList<>();
            receiver.backplane().subscribe("t", new Subscriber() {
                @Override
                public void onMessage(Envelope envelope) {
                    entered.countDown();
                    try {
                        gate.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    got.add(envelope.payloadSize());
                }

                @Override
                public void onMissed(Missed m) {
                    missed.add(m);
                }
            });
            sender.backplane().publish(Message.of("t", new byte[16 * 1024]));
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
            for (int i = 0; i < 20; i++) {
                sender.backplane().publish(Message.of("t", new byte[16 * 1024]));
            }
            gate.countDown();
            // One in the subscriber's hands, four (64 KiB) waiting; the other sixteen were dropped.
            await().atMost(Duration.ofSeconds(30)).until(() -> got.size() == 5);
            sender.backplane().publish(Message.of("t", new byte[1]));

            await().atMost(Duration.ofSeconds(30)).until(() -> got.contains(1));
            assertThat(got).hasSize(6);
            assertThat(receiver.backplane().stats().overflowDrops()).isEqualTo(16);
            assertThat(missed).extracting(Missed::cause).containsExactly(Missed.Cause.OVERFLOW);
            assertThat(missed.get(0).detail()).contains("65536 bytes");
        }
    }
}

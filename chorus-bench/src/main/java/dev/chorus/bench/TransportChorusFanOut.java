package dev.chorus.bench;

import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.wire.Envelope;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * Chorus on a networked transport: one publishing replica and one replica per receiver, each started by
 * the scenario's factory with its own connections and default settings, on a channel of their own. Every
 * receiver subscribes to the topic; the publisher does not (its backplane may still listen, for canaries).
 */
final class TransportChorusFanOut implements FanOut {

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(15);

    private final String topic;
    private final List<BenchReplica> replicas = new ArrayList<>();
    private final List<Receiver> receivers = new ArrayList<>();
    private final LongAdder lossSignals = new LongAdder();
    private final Backplane publisher;

    /**
     * @param topic the topic published and subscribed to
     * @param start starts a replica with the given name, all on one channel
     * @param receiverCount receiving replicas
     */
    TransportChorusFanOut(String topic, Function<String, BenchReplica> start, int receiverCount) {
        this.topic = topic;
        try {
            BenchReplica publishing = start.apply("publisher");
            replicas.add(publishing);
            publisher = publishing.backplane();
            for (int i = 0; i < receiverCount; i++) {
                BenchReplica replica = start.apply("receiver-" + i);
                replicas.add(replica);
                Receiver receiver = new Receiver();
                receivers.add(receiver);
                replica.backplane().subscribe(topic, new Subscriber() {
                    @Override
                    public void onMessage(Envelope envelope) {
                        long now = System.nanoTime();
                        receiver.accept(envelope.payload(), now);
                    }

                    @Override
                    public void onMissed(Missed missed) {
                        lossSignals.increment();
                    }
                });
            }
            Readiness.awaitEachHearsTheOthers(
                    replicas.stream().map(BenchReplica::backplane).toList(), CONNECT_TIMEOUT);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    @Override
    public String variant() {
        return "chorus";
    }

    @Override
    public List<Receiver> receivers() {
        return receivers;
    }

    @Override
    public void publish(byte[] payload) {
        // publish() only enqueues; a failed send is counted by the backplane, see lossSignals.
        publisher.publish(Message.of(topic, payload));
    }

    @Override
    public long lossSignals() {
        return lossSignals.sum() + publisher.stats().publishFailures();
    }

    @Override
    public void close() {
        replicas.forEach(BenchReplica::close);
    }
}

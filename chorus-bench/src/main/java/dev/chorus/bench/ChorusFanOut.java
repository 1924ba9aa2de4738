package dev.chorus.bench;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.local.LocalCluster;
import dev.chorus.local.LocalCluster.LocalReplica;
import dev.chorus.wire.Envelope;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * A {@link LocalCluster} with one publishing replica and one replica per receiver, each subscribed to the
 * topic: every message is stamped and encoded (as on any transport), then the envelope is handed to each
 * receiving replica's subscription queue and delivered on its virtual thread.
 */
final class ChorusFanOut implements FanOut {

    static final String TOPIC = "bench.inprocess";

    private final List<LocalReplica> replicas = new ArrayList<>();
    private final List<Receiver> receivers = new ArrayList<>();
    private final LongAdder lossSignals = new LongAdder();
    private final Backplane publisher;

    ChorusFanOut(int receiverCount) {
        LocalCluster cluster = LocalCluster.create("bench");
        LocalReplica publishing = cluster.join(ReplicaId.random("publisher"));
        replicas.add(publishing);
        publisher = publishing.backplane();
        for (int i = 0; i < receiverCount; i++) {
            LocalReplica replica = cluster.join(ReplicaId.random("receiver-" + i));
            replicas.add(replica);
            Receiver receiver = new Receiver();
            receivers.add(receiver);
            replica.backplane().subscribe(TOPIC, new Subscriber() {
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
        if (publisher.publish(Message.of(TOPIC, payload)).isCompletedExceptionally()) {
            lossSignals.increment();
        }
    }

    @Override
    public long lossSignals() {
        return lossSignals.sum();
    }

    @Override
    public void close() {
        replicas.forEach(LocalReplica::close);
    }
}

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

/**
 * Chorus on PostgreSQL: one publishing replica and one replica per receiver, each a {@code PostgresBackplane}
 * with its own {@code PostgresDatabase} and default settings, on a channel of their own. Every receiver
 * subscribes to the topic; the publisher does not.
 */
final class PostgresChorusFanOut implements FanOut {

    static final String TOPIC = "bench.postgres";

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(15);

    private final List<BenchPostgres.Replica> replicas = new ArrayList<>();
    private final List<Receiver> receivers = new ArrayList<>();
    private final LongAdder lossSignals = new LongAdder();
    private final Backplane publisher;

    PostgresChorusFanOut(BenchPostgres postgres, int receiverCount) {
        String channel = postgres.uniqueChannel("chorus");
        try {
            BenchPostgres.Replica publishing = postgres.replica("publisher", channel, b -> b);
            replicas.add(publishing);
            publisher = publishing.backplane();
            for (int i = 0; i < receiverCount; i++) {
                BenchPostgres.Replica replica = postgres.replica("receiver-" + i, channel, b -> b);
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
            Readiness.awaitEachHearsTheOthers(
                    replicas.stream().map(BenchPostgres.Replica::backplane).toList(), CONNECT_TIMEOUT);
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
        // Failures are counted by the backplane (its publish future completes after the send), see lossSignals.
        publisher.publish(Message.of(TOPIC, payload));
    }

    @Override
    public long lossSignals() {
        return lossSignals.sum() + publisher.stats().publishFailures();
    }

    @Override
    public void close() {
        replicas.forEach(BenchPostgres.Replica::close);
    }
}
